import Foundation
import PerimeterCore

/// Durable home of virtual keys. The gateway reads it at start and on changes; never per request.
public protocol KeyStore: Sendable {
    func insert(_ key: VirtualKey) async throws
    func key(id: String) async throws -> VirtualKey?
    /// Every key, revoked ones included, oldest first; only those of `env` when given.
    func keys(env: String?) async throws -> [VirtualKey]
    /// Marks the key revoked at `time` (the first revocation wins) and returns it; `nil` if unknown.
    func revoke(id: String, at time: Date) async throws -> VirtualKey?
    /// Applies `change` to the key's name, owner and policy in one step and returns the result; `nil` if
    /// unknown. Its id, secret, environment and dates are not the change's to alter.
    func update(id: String, _ change: @Sendable (inout VirtualKey) throws -> Void) async throws -> VirtualKey?
    /// Replaces the key's secret with what `rotate` returns (its digest, prefix, generation, retired
    /// secrets and rotation time) in one step; `nil` if unknown. `rotate` may throw to refuse.
    func rotate(id: String, _ rotate: @Sendable (VirtualKey) throws -> VirtualKey) async throws -> VirtualKey?
    /// Moves each key's `last_used_at` forward to the given time; never backwards.
    func recordUse(_ lastUsed: [String: Date]) async throws
}

extension KeyStore {
    public func allKeys() async throws -> [VirtualKey] { try await keys(env: nil) }
}

/// The backend reported a write that breaks a uniqueness rule.
public struct StoreConflict: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension VirtualKey {
    /// Restores what an update may not change.
    package mutating func keepingIdentity(of original: VirtualKey) {
        id = original.id
        env = original.env
        prefix = original.prefix
        digest = original.digest
        generation = original.generation
        retiredSecrets = original.retiredSecrets
        rotatedAt = original.rotatedAt
        isCanary = original.isCanary
        createdAt = original.createdAt
        revokedAt = original.revokedAt
        lastUsedAt = original.lastUsedAt
    }
}

/// A key store shared by several gateway instances tells each of them when any instance changed a
/// key (created, updated, rotated, revoked) or a secret of the built-in store, so every key cache and
/// secret cache follows within moments.
public protocol KeyChangeFeed: Sendable {
    /// Calls `changed` with the id of each key changed anywhere, or `secret:NAME` for a built-in store
    /// secret, until the task is cancelled (then it returns) or the feed breaks (then it throws;
    /// changes made meanwhile are missed, so the caller reloads every key before following again).
    func followKeyChanges(_ changed: @escaping @Sendable (String) async -> Void) async throws
}

/// Work that several gateway instances sharing a store must do on one of them at a time (scheduled
/// rotations): whoever takes the lock does it, the others skip that round.
/// What a ``KeyChangeFeed`` announce names.
public enum KeyChange {
    /// Prefix of a built-in store secret's name (key ids never start with it).
    public static let secretPrefix = "secret:"
}

public protocol ClusterLock: Sendable {
    /// Runs `body` if no instance holds lock `id`, holding it meanwhile; returns `nil` without running
    /// it otherwise. A holder that dies lets go of it.
    func ifFree<T: Sendable>(_ id: Int64, _ body: @Sendable () async throws -> T) async throws -> T?
}
