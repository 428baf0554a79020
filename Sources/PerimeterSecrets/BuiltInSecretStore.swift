import Foundation
import PerimeterCore
import PerimeterStorage

/// `store:NAME`: Perimeter's own encrypted store. Values are sealed with ``Envelope`` under the master
/// key and kept, every version, in the gateway's database, which holds ciphertext only.
public struct BuiltInSecretStore: SecretStore {
    private let storage: any SealedSecretStore
    private let master: MasterKey
    private let now: @Sendable () -> Date
    /// Why nothing may be stored, if so: a master key of this process alone, on a database other
    /// processes share, would seal what no other instance (and no restart) can open.
    private let writeRefusal: String?

    public init(
        storage: any SealedSecretStore, master: MasterKey, now: @escaping @Sendable () -> Date = Date.init, writeRefusal: String? = nil
    ) {
        self.storage = storage
        self.master = master
        self.now = now
        self.writeRefusal = writeRefusal
    }

    public var masterKeyID: String { master.id }

    public func fetch(_ reference: SecretReference) async throws -> FetchedSecret {
        guard let sealed = try await storage.latestSealedSecret(name: reference.path) else {
            throw SecretStoreError.notFound(
                reference, hint: "put it with `perimeter secrets put \(reference.path)` (the value is read from standard input)")
        }
        do {
            let secret = try Envelope.open(sealed, with: master)
            return FetchedSecret(secret, version: String(sealed.version), createdAt: sealed.createdAt)
        } catch {
            throw SecretStoreError.unreadable(reference, reason: error.description)
        }
    }

    /// Stores the first version of a new secret.
    public func put(name: String, value: Secret) async throws -> SealedSecretSummary {
        if let writeRefusal { throw BuiltInSecretStoreError.noSharedMasterKey(writeRefusal) }
        try validate(name: name, value: value)
        if try await storage.latestSealedSecret(name: name) != nil { throw BuiltInSecretStoreError.exists(name) }
        return try await append(name: name, value: value, version: 1)
    }

    /// Stores a new version of an existing secret; earlier versions are kept.
    public func rotate(name: String, value: Secret) async throws -> SealedSecretSummary {
        if let writeRefusal { throw BuiltInSecretStoreError.noSharedMasterKey(writeRefusal) }
        try validate(name: name, value: value)
        guard let latest = try await storage.latestSealedSecret(name: name) else { throw BuiltInSecretStoreError.notFound(name) }
        return try await append(name: name, value: value, version: latest.version + 1)
    }

    /// Removes a secret with all its versions.
    public func delete(name: String) async throws {
        guard try await storage.deleteSealedSecret(name: name) > 0 else { throw BuiltInSecretStoreError.notFound(name) }
    }

    public func list() async throws -> [SealedSecretSummary] {
        try await storage.sealedSecretSummaries()
    }

    /// Names of secrets sealed under another master key than the loaded one.
    public func secretsSealedWithOtherKeys() async throws -> [String] {
        try await storage.sealedSecretSummaries().filter { $0.masterKeyID != master.id }.map(\.name)
    }

    private func append(name: String, value: Secret, version: Int) async throws -> SealedSecretSummary {
        let time = now()
        let sealed = try Envelope.seal(value, name: name, version: version, at: time, with: master)
        try await storage.appendSealedSecret(sealed)
        let summary = try await storage.sealedSecretSummaries().first { $0.name == name }
        return summary
            ?? SealedSecretSummary(
                name: name, latestVersion: version, versions: version, createdAt: time, updatedAt: time, masterKeyID: master.id)
    }

    private func validate(name: String, value: Secret) throws {
        guard SecretReference.isValidStoreName(name) else { throw BuiltInSecretStoreError.invalidName(name) }
        guard !value.revealed.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw BuiltInSecretStoreError.emptyValue
        }
        guard value.revealed.utf8.count <= 65536 else { throw BuiltInSecretStoreError.tooLarge }
    }
}

public enum BuiltInSecretStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    case exists(String)
    case notFound(String)
    case invalidName(String)
    case emptyValue
    case tooLarge
    case noSharedMasterKey(String)

    public var description: String {
        switch self {
        case .exists(let name):
            "secret '\(name)' already exists; use `perimeter secrets rotate \(name)` to store a new version"
        case .notFound(let name): "no secret named '\(name)'"
        case .invalidName(let name):
            "'\(name)' is not a valid secret name; use letters, digits and . _ - (up to 128 characters)"
        case .emptyValue: "the secret value is empty; pipe it on standard input"
        case .tooLarge: "the secret value is larger than 64 KiB"
        case .noSharedMasterKey(let reason): reason
        }
    }
}
