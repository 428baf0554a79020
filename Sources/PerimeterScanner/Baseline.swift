import Foundation

/// Findings accepted on purpose, keyed by rule, path and the secret's SHA-256: never by line, so
/// an accepted finding stays accepted when lines move above it.
public struct Baseline: Sendable, Codable, Equatable {
    public struct Entry: Sendable, Codable, Hashable, Comparable {
        public var rule: String
        public var path: String
        public var sha256: String

        public init(rule: String, path: String, sha256: String) {
            self.rule = rule
            self.path = path
            self.sha256 = sha256
        }

        public static func < (lhs: Entry, rhs: Entry) -> Bool {
            (lhs.path, lhs.rule, lhs.sha256) < (rhs.path, rhs.rule, rhs.sha256)
        }
    }

    public var version = 1
    public var findings: [Entry]

    public init(findings: [Finding]) {
        self.findings = Array(Set(findings.map(Self.entry))).sorted()
    }

    public static func entry(_ finding: Finding) -> Entry {
        Entry(rule: finding.ruleID, path: finding.path, sha256: finding.sha256)
    }

    public func contains(_ finding: Finding) -> Bool {
        lookup.contains(Self.entry(finding))
    }

    private var lookup: Set<Entry> { Set(findings) }

    /// Splits findings into those that remain and those the baseline accepts.
    public func filter(_ findings: [Finding]) -> (remaining: [Finding], accepted: [Finding]) {
        let accepted = lookup
        var remaining: [Finding] = []
        var matched: [Finding] = []
        for finding in findings {
            if accepted.contains(Self.entry(finding)) { matched.append(finding) } else { remaining.append(finding) }
        }
        return (remaining, matched)
    }

    public static func load(from data: Data) throws -> Baseline {
        do {
            return try JSONDecoder().decode(Baseline.self, from: data)
        } catch {
            throw BaselineError.unreadable("\(error)")
        }
    }

    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self) + Data("\n".utf8)
    }
}

public enum BaselineError: Error, CustomStringConvertible {
    case unreadable(String)

    public var description: String {
        switch self {
        case .unreadable(let reason): "the baseline file is not a perimeter scan baseline (\(reason))"
        }
    }
}
