import Foundation

/// A model-name pattern from config: `*` matches any run of characters, everything else matches itself.
public struct ModelPattern: Sendable, Hashable, CustomStringConvertible {
    public let description: String
    private let parts: [Substring]

    public init(_ pattern: String) {
        description = pattern
        parts = pattern.split(separator: "*", omittingEmptySubsequences: false)
    }

    public func matches(_ model: String) -> Bool {
        guard parts.count > 1 else { return model == description }
        var rest = Substring(model)
        guard rest.hasPrefix(parts[0]) else { return false }
        rest = rest.dropFirst(parts[0].count)
        for part in parts.dropFirst().dropLast() where !part.isEmpty {
            guard let range = rest.range(of: part) else { return false }
            rest = rest[range.upperBound...]
        }
        return rest.hasSuffix(parts.last!)
    }
}
