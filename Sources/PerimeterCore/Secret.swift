/// A secret value (a provider key, a virtual key's plaintext, an admin token) that never prints itself.
///
/// `description`, `debugDescription` and reflection all show `<redacted>`, so a `Secret` that lands in a
/// log line, an error message or `dump` output leaks nothing. The value is reached only through
/// ``revealed``, which makes each use easy to find in review.
public struct Secret: Sendable, Hashable {
    private let value: String

    public init(_ value: String) {
        self.value = value
    }

    /// The plaintext. Use it only where the value must cross a boundary (an upstream header, the one
    /// response that shows a new key).
    public var revealed: String { value }

    public var isEmpty: Bool { value.isEmpty }
}

extension Secret: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "<redacted>" }
    public var debugDescription: String { "Secret(<redacted>)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
