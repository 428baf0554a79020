import Foundation

/// The `--format sarif` report: SARIF 2.1.0, one run, one result per finding, every rule described.
/// Results carry the secret's SHA-256 as a partial fingerprint, so code-scanning services follow a
/// finding across line moves, as the baseline does.
public enum SARIFReport {
    public static let schema = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

    public static func render(_ findings: [Finding], rules: [Rule], toolVersion: String) throws -> Data {
        let ruleIndex = Dictionary(rules.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        let driver: [String: Any] = [
            "name": "perimeter",
            "semanticVersion": toolVersion,
            "rules": rules.map { rule in
                [
                    "id": rule.id,
                    "name": rule.title,
                    "shortDescription": ["text": rule.title],
                    "fullDescription": ["text": "\(rule.title) (\(rule.provider)). Revoke or rotate it, then remove it from history."],
                    "defaultConfiguration": ["level": "error"],
                    "properties": ["provider": rule.provider, "tags": ["security", "secret"]],
                ] as [String: Any]
            },
        ]
        let results: [[String: Any]] = findings.map { finding in
            let uri = finding.path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? finding.path
            var physical: [String: Any] = ["artifactLocation": ["uri": uri]]
            if finding.line > 0 { physical["region"] = ["startLine": finding.line, "startColumn": max(1, finding.column)] }
            var properties: [String: Any] = [
                "source": finding.sourceName, "redacted": finding.redacted, "classification": finding.classification.rawValue,
            ]
            if let commit = finding.commit {
                properties["commit"] = commit.sha
                properties["author"] = "\(commit.author) <\(commit.email)>"
                properties["date"] = commit.date
            }
            if let encoding = finding.encoding { properties["encoding"] = encoding.rawValue }
            if let id = finding.managedKeyID { properties["managed_key_id"] = id }
            if let reference = finding.credentialReference { properties["credential_reference"] = reference }
            var result: [String: Any] = [
                "ruleId": finding.ruleID,
                "level": "error",
                "message": ["text": "\(finding.title) \(finding.redacted)" + (finding.commit.map { " in commit \($0.shortSHA)" } ?? "")],
                "locations": [["physicalLocation": physical]],
                "partialFingerprints": ["secretSha256/v1": finding.sha256],
                "properties": properties,
            ]
            if let index = ruleIndex[finding.ruleID] { result["ruleIndex"] = index }
            return result
        }
        let document: [String: Any] = [
            "$schema": schema,
            "version": "2.1.0",
            "runs": [["tool": ["driver": driver], "results": results]],
        ]
        return try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }
}
