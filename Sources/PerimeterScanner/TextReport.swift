/// The `--format text` report as table rows: one line per finding, the secret redacted to its first
/// and last four characters. The CLI aligns the columns.
public enum TextReport {
    public static let headers = ["LOCATION", "RULE", "SECRET", "COMMIT", "AUTHOR", "DATE", "MANAGED", "CLASS"]

    public static func rows(_ findings: [Finding]) -> [[String]] {
        findings.map { finding in
            let commit = finding.commit
            let managed = finding.managedKeyID ?? finding.credentialReference ?? "-"
            return [
                "\(finding.path):\(finding.line)", finding.ruleID + (finding.encoding.map { " (\($0.rawValue))" } ?? ""),
                finding.redacted,
                commit?.shortSHA ?? finding.sourceName, commit?.author ?? "-", commit.map { String($0.date.prefix(10)) } ?? "-",
                managed, finding.classification.rawValue,
            ]
        }
    }
}
