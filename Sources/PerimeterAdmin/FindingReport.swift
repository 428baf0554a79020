import PerimeterAdminModels
import PerimeterCore
import PerimeterStorage

/// One finding of `POST /admin/v1/findings` as a scanner reports it: only the fields the document
/// declares, each in its declared form, so the inventory shows nothing a scanner could not have meant.
/// `path` may hold any character a file name can; the CLI escapes what it prints.
struct FindingReport: Decodable {
    var rule: String
    var provider: String?
    var path: String
    var line: Int?
    var commit: String?
    var sha256: String
    var managedKeyID: String?
    var owner: String?
    var hostname: String?
    var classification: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case rule, provider, path, line, commit, sha256
        case managedKeyID = "managed_key_id"
        case owner, hostname, classification
    }

    static let maximumPathLength = 4096
    static let maximumProviderLength = 64
    /// As a virtual key's owner.
    static let maximumOwnerLength = 128
    /// A DNS name's longest text form.
    static let maximumHostnameLength = 253
    /// What `perimeter scan` calls a finding (`Finding.Classification` in the scanner).
    static let classifications = ["managed", "provider_key_held_by_gateway", "provider_key"]

    init(from decoder: any Decoder) throws {
        try decoder.refuseUnknownKeys(of: CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        rule = try c.decode(String.self, forKey: .rule)
        provider = try c.decodeIfPresent(String.self, forKey: .provider)
        path = try c.decode(String.self, forKey: .path)
        line = try c.decodeWholeNumberIfPresent(forKey: .line)
        commit = try c.decodeIfPresent(String.self, forKey: .commit)
        sha256 = try c.decode(String.self, forKey: .sha256)
        managedKeyID = try c.decodeIfPresent(String.self, forKey: .managedKeyID)
        owner = try c.decodeIfPresent(String.self, forKey: .owner)
        hostname = try c.decodeIfPresent(String.self, forKey: .hostname)
        classification = try c.decodeIfPresent(String.self, forKey: .classification)
    }

    /// The finding to store, or a 400 naming the field of the `index`th finding.
    func validated(index: Int) throws(GatewayError) -> ReportedFinding {
        func refuse(_ field: String, _ rule: String) -> GatewayError {
            .invalidRequest("findings[\(index)].\(field) must be \(rule).")
        }
        guard AdminContract.ruleID.matches(rule) else { throw refuse("rule", "a rule id such as openai-api-key") }
        func requireLabel(_ text: String?, _ field: String, maximum: Int) throws(GatewayError) {
            guard let text else { return }
            guard (1...maximum).contains(text.unicodeScalars.count), !AdminContract.hasControlCharacter(text) else {
                throw refuse(field, "1 to \(maximum) characters without control characters")
            }
        }
        try requireLabel(provider, "provider", maximum: Self.maximumProviderLength)
        try requireLabel(owner, "owner", maximum: Self.maximumOwnerLength)
        try requireLabel(hostname, "hostname", maximum: Self.maximumHostnameLength)
        if let classification, !Self.classifications.contains(classification) {
            throw refuse("classification", "one of " + Self.classifications.joined(separator: ", "))
        }
        guard (1...Self.maximumPathLength).contains(path.unicodeScalars.count) else {
            throw refuse("path", "1 to 4096 characters")
        }
        if let line, !(1...Int(Int32.max)).contains(line) { throw refuse("line", "a line number from 1") }
        if let commit, !AdminContract.commit.matches(commit) { throw refuse("commit", "a commit id in lowercase hex (7 to 64 digits)") }
        guard AdminContract.sha256.matches(sha256) else { throw refuse("sha256", "64 lowercase hex digits") }
        if let managedKeyID, !AdminContract.keyID.matches(managedKeyID) {
            throw refuse("managed_key_id", "a virtual key id such as key_0123456789abcdef")
        }
        return ReportedFinding(
            rule: rule, provider: provider, path: path, line: line, commit: commit, sha256: sha256, managedKeyID: managedKeyID,
            owner: owner, hostname: hostname, classification: classification)
    }
}
