import Foundation
import PerimeterCore
import Synchronization

/// A value a store answered with, and what the store says about its version.
public struct FetchedSecret: Sendable {
    public var secret: Secret
    /// The store's version of the value (a number for the built-in store and Vault, an id for AWS).
    public var version: String?
    public var createdAt: Date?
    /// When the store last changed the version's attributes (Key Vault's `updated`: enabled, expiry,
    /// tags), for stores that keep such a date; the value itself is as old as `createdAt`.
    public var updatedAt: Date?

    public init(_ secret: Secret, version: String? = nil, createdAt: Date? = nil, updatedAt: Date? = nil) {
        self.secret = secret
        self.version = version
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// Where provider credentials come from. One store per reference scheme; the gateway asks through
/// ``SecretResolver``, which picks the store and caches values.
public protocol SecretStore: Sendable {
    /// The value `reference` points to. Errors name the reference, never a value.
    func fetch(_ reference: SecretReference) async throws -> FetchedSecret

    /// Called about once a second by the refresher: a store with a login renews it here, before it
    /// expires.
    func maintain() async
}

extension SecretStore {
    public func maintain() async {}
}

/// A store Perimeter can also write to: rotated virtual keys are delivered into it.
public protocol WritableSecretStore: SecretStore {
    /// Stores `secret` where `reference` points, as a new version (other fields of the same secret are
    /// kept), and returns the store's version.
    func write(_ secret: Secret, to reference: SecretReference) async throws -> String?
}

public enum SecretStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The store answered: there is no such secret (or field).
    case notFound(SecretReference, hint: String)
    /// The store answered, but refused or returned something unusable.
    case unreadable(SecretReference, reason: String)
    /// The store could not be reached or failed on its side (network error, timeout, 5xx): the last
    /// good value may keep serving for the grace period.
    case unreachable(SecretReference, reason: String)
    case noStore(scheme: String)

    public var description: String {
        switch self {
        case .notFound(let reference, let hint): "secret \(reference) not found: \(hint)"
        case .unreadable(let reference, let reason): "secret \(reference) could not be read: \(reason)"
        case .unreachable(let reference, let reason): "secret \(reference) is unreachable: \(reason)"
        case .noStore(let scheme): "no secret store handles '\(scheme):' references"
        }
    }

    /// Whether the failure is the store's being away rather than its answer.
    public var isTransient: Bool {
        if case .unreachable = self { return true }
        return false
    }
}

/// `env:NAME`: a variable of the gateway's environment, read once at start.
public struct EnvironmentSecretStore: SecretStore {
    private let environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    public func fetch(_ reference: SecretReference) async throws -> FetchedSecret {
        guard let value = environment[reference.path], !value.isEmpty else {
            throw SecretStoreError.notFound(reference, hint: "set \(reference.path) in the gateway's environment")
        }
        return FetchedSecret(Secret(value))
    }
}

/// `file:PATH`: a file's content without its trailing newline (Docker and Kubernetes secrets), read
/// again whenever the resolver refreshes it, so a rotated file is picked up without a restart.
public struct FileSecretStore: SecretStore {
    public init() {}

    public func fetch(_ reference: SecretReference) async throws -> FetchedSecret {
        guard FileManager.default.fileExists(atPath: reference.path) else {
            throw SecretStoreError.notFound(reference, hint: "create the file or fix the path")
        }
        guard let data = FileManager.default.contents(atPath: reference.path) else {
            throw SecretStoreError.unreadable(reference, reason: "permission denied or not a regular file")
        }
        let value = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !value.isEmpty else { throw SecretStoreError.unreadable(reference, reason: "the file is empty") }
        let modified = (try? FileManager.default.attributesOfItem(atPath: reference.path))?[.modificationDate] as? Date
        return FetchedSecret(Secret(value), createdAt: modified)
    }
}

/// Secrets by reference, changeable, for tests. `fail` makes every fetch throw, like a store that is down.
public final class MemorySecretStore: SecretStore {
    private struct State {
        var values: [SecretReference: Secret]
        var failure: SecretStoreError?
        var fetches = 0
    }

    private let state: Mutex<State>

    public init(_ values: [SecretReference: Secret] = [:]) {
        state = Mutex(State(values: values))
    }

    public func set(_ reference: SecretReference, to value: Secret?) {
        state.withLock { $0.values[reference] = value }
    }

    public func fail(with error: SecretStoreError?) {
        state.withLock { $0.failure = error }
    }

    public var fetchCount: Int { state.withLock { $0.fetches } }

    public func fetch(_ reference: SecretReference) async throws -> FetchedSecret {
        try state.withLock { state in
            state.fetches += 1
            if let failure = state.failure { throw failure }
            guard let value = state.values[reference] else { throw SecretStoreError.notFound(reference, hint: "not in memory") }
            return FetchedSecret(value)
        }
    }
}
