import PerimeterCore

/// The gateway's answer to `POST /admin/v1/fingerprints`: keyed fingerprints of the virtual keys
/// and provider credentials it manages, for one salt (see ``KeyFingerprint``).
public struct ManagedKeys: Sendable, Codable, Equatable {
    public struct Key: Sendable, Codable, Equatable {
        public var id: String
        public var fingerprint: String
    }

    public struct Credential: Sendable, Codable, Equatable {
        public var reference: String
        public var fingerprint: String
    }

    public var keys: [Key]
    public var credentials: [Credential]

    public init(keys: [Key], credentials: [Credential]) {
        self.keys = keys
        self.credentials = credentials
    }

    /// Sets `managedKeyID` or `credentialReference` on each finding that is one of these secrets.
    public func mark(_ findings: inout [Finding], salt: [UInt8]) {
        let keyIDs = Dictionary(keys.map { ($0.fingerprint.lowercased(), $0.id) }, uniquingKeysWith: { first, _ in first })
        let references = Dictionary(
            credentials.map { ($0.fingerprint.lowercased(), $0.reference) }, uniquingKeysWith: { first, _ in first })
        for index in findings.indices {
            let fingerprint = KeyFingerprint.fingerprint(of: findings[index].digest, salt: salt)
            findings[index].managedKeyID = keyIDs[fingerprint]
            findings[index].credentialReference = references[fingerprint]
        }
    }
}
