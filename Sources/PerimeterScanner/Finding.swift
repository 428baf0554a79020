import PerimeterCore

/// A secret found at one place: a value, not an error (see the README's JSON schema).
public struct Finding: Sendable {
    public var ruleID: String
    public var provider: String
    public var title: String
    public var path: String
    public var line: Int
    public var column: Int
    public var origin: ScanItem.Origin
    /// The matched text; it never prints itself, and reports show only ``redacted`` and ``digest``.
    public var secret: Secret
    public var digest: KeyDigest
    /// The gateway's id for this key, when it manages it (filled in by the CLI).
    public var managedKeyID: String?
    /// The gateway's secret reference (`store:openai`) when this is one of its provider credentials.
    public var credentialReference: String?
    /// The decoding that revealed it (base64, percent, ...), when the plain text did not show it;
    /// `line` and `column` then point at the encoded text.
    public var encoding: Encoding?

    public init(match: Match, rule: Rule, path: String, origin: ScanItem.Origin) {
        ruleID = rule.id
        provider = rule.provider
        title = rule.title
        self.path = path
        line = match.line
        column = match.column
        self.origin = origin
        secret = Secret(match.text)
        digest = KeyDigest(of: match.text)
        encoding = match.encoding
    }

    public var commit: Commit? {
        if case .history(let commit) = origin { return commit }
        return nil
    }

    /// `working-tree`, `index` or `history`.
    public var sourceName: String {
        switch origin {
        case .workingTree: "working-tree"
        case .index: "index"
        case .history: "history"
        }
    }

    /// The first and last four characters, or the path itself for `env-file-committed`.
    public var redacted: String { Self.redact(secret.revealed, isPath: ruleID == "env-file-committed") }

    public var sha256: String { digest.hex }

    /// `path:line`, and the commit when there is one: what a revocation's reason cites.
    public var location: String {
        "\(path):\(line)" + (commit.map { " (commit \($0.shortSHA))" } ?? "")
    }

    static func redact(_ text: String, isPath: Bool) -> String {
        if isPath { return text }
        guard text.count > 12 else { return String(repeating: "*", count: text.count) }
        return "\(text.prefix(4))…\(text.suffix(4))"
    }
}
