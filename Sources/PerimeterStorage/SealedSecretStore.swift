import Foundation

/// One version of a secret of the built-in store, as it rests in the database: ciphertext only.
///
/// The value is sealed with its own data key, and the data key is sealed (wrapped) with the master
/// key, which never reaches the database. `masterKeyID` names the master key without revealing it, so
/// a wrong key is reported as such instead of as corrupt data.
public struct SealedSecret: Sendable, Hashable {
    public var name: String
    public var version: Int
    public var createdAt: Date
    public var masterKeyID: String
    /// The data key, sealed with the master key (AES-GCM nonce, ciphertext and tag).
    public var wrappedKey: [UInt8]
    /// The value, sealed with the data key (AES-GCM nonce, ciphertext and tag).
    public var ciphertext: [UInt8]

    public init(name: String, version: Int, createdAt: Date, masterKeyID: String, wrappedKey: [UInt8], ciphertext: [UInt8]) {
        self.name = name
        self.version = version
        self.createdAt = createdAt
        self.masterKeyID = masterKeyID
        self.wrappedKey = wrappedKey
        self.ciphertext = ciphertext
    }
}

/// What `secrets list` shows of a secret: never its value.
public struct SealedSecretSummary: Sendable, Hashable {
    public var name: String
    public var latestVersion: Int
    public var versions: Int
    public var createdAt: Date
    public var updatedAt: Date
    public var masterKeyID: String

    public init(name: String, latestVersion: Int, versions: Int, createdAt: Date, updatedAt: Date, masterKeyID: String) {
        self.name = name
        self.latestVersion = latestVersion
        self.versions = versions
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.masterKeyID = masterKeyID
    }
}

public enum SealedSecretStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Another writer stored this version first.
    case versionExists(name: String, version: Int)

    public var description: String {
        switch self {
        case .versionExists(let name, let version):
            "version \(version) of secret '\(name)' was written concurrently; try again"
        }
    }
}

/// Durable home of the built-in store's sealed secrets. Versions are appended, never changed.
public protocol SealedSecretStore: Sendable {
    /// Adds a version; throws ``SealedSecretStoreError/versionExists(name:version:)`` when it exists.
    func appendSealedSecret(_ secret: SealedSecret) async throws
    func latestSealedSecret(name: String) async throws -> SealedSecret?
    func sealedSecretSummaries() async throws -> [SealedSecretSummary]
    /// Removes every version of `name`; returns how many there were.
    func deleteSealedSecret(name: String) async throws -> Int
}
