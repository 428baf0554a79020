import Foundation
import PerimeterCore
import Synchronization

/// Where provider credentials come from. One store per reference scheme; the gateway asks through
/// ``SecretResolver``, which picks the store and caches values for a short time.
public protocol SecretStore: Sendable {
    /// The value `reference` points to. Errors name the reference, never a value.
    func secret(for reference: SecretReference) async throws -> Secret
}

public enum SecretStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    case notFound(SecretReference, hint: String)
    case unreadable(SecretReference, reason: String)
    case noStore(scheme: String)

    public var description: String {
        switch self {
        case .notFound(let reference, let hint): "secret \(reference) not found: \(hint)"
        case .unreadable(let reference, let reason): "secret \(reference) could not be read: \(reason)"
        case .noStore(let scheme): "no secret store handles '\(scheme):' references"
        }
    }
}

/// `env:NAME`: a variable of the gateway's environment, read once at start.
public struct EnvironmentSecretStore: SecretStore {
    private let environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    public func secret(for reference: SecretReference) async throws -> Secret {
        guard let value = environment[reference.path], !value.isEmpty else {
            throw SecretStoreError.notFound(reference, hint: "set \(reference.path) in the gateway's environment")
        }
        return Secret(value)
    }
}

/// `file:PATH`: a file's content without its trailing newline (Docker and Kubernetes secrets), read
/// again whenever the resolver's cache expires, so a rotated file is picked up without a restart.
public struct FileSecretStore: SecretStore {
    public init() {}

    public func secret(for reference: SecretReference) async throws -> Secret {
        guard FileManager.default.fileExists(atPath: reference.path) else {
            throw SecretStoreError.notFound(reference, hint: "create the file or fix the path")
        }
        guard let data = FileManager.default.contents(atPath: reference.path) else {
            throw SecretStoreError.unreadable(reference, reason: "permission denied or not a regular file")
        }
        let value = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !value.isEmpty else { throw SecretStoreError.unreadable(reference, reason: "the file is empty") }
        return Secret(value)
    }
}

/// Fixed secrets by reference, for tests.
public struct MemorySecretStore: SecretStore {
    private let values: [SecretReference: Secret]

    public init(_ values: [SecretReference: Secret]) {
        self.values = values
    }

    public func secret(for reference: SecretReference) async throws -> Secret {
        guard let value = values[reference] else { throw SecretStoreError.notFound(reference, hint: "not in memory") }
        return value
    }
}
