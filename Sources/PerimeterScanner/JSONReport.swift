import Foundation

/// The `--format json` report: one object with `findings` (schema in the README, version 1).
/// Secrets never appear: each finding has its redacted form and its SHA-256.
public enum JSONReport {
    public static let version = 1

    /// `summary` holds counts such as `baselined`; `gateway` says whether managed keys were checked.
    public static func render(_ findings: [Finding], summary: [String: Int], gateway: String?) throws -> Data {
        let document: [String: Any] = [
            "version": version,
            "findings": findings.map(object),
            "summary": summary.merging(["findings": findings.count]) { _, new in new },
            "gateway": gateway ?? NSNull(),
            // Without a gateway, `classification` comes from each key's format alone.
            "classified_by": gateway == nil ? "format" : "gateway",
        ]
        return try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }

    /// One finding as a JSON object; absent values are `null`, so every key is always present.
    public static func object(_ finding: Finding) -> [String: Any] {
        let commit = finding.commit
        return [
            "rule": finding.ruleID,
            "provider": finding.provider,
            "title": finding.title,
            "path": finding.path,
            "line": finding.line,
            "column": finding.column,
            "source": finding.sourceName,
            "encoding": finding.encoding?.rawValue ?? NSNull(),
            "commit": commit?.sha ?? NSNull(),
            "author": commit.map { "\($0.author) <\($0.email)>" } ?? NSNull(),
            "date": commit?.date ?? NSNull(),
            "redacted": finding.redacted,
            "sha256": finding.sha256,
            "managed_key_id": finding.managedKeyID ?? NSNull(),
            "credential_reference": finding.credentialReference ?? NSNull(),
            "classification": finding.classification.rawValue,
        ]
    }
}
