import Foundation
import PerimeterCore
import PerimeterStorage
import Synchronization

/// Every virtual key in memory, by the digest of its secret: authentication reads this, never the
/// database. Loaded at start; the admin API updates it on every create and revoke.
package final class KeyCache: Sendable {
    private struct State {
        var byDigest: [KeyDigest: VirtualKey] = [:]
        var digestByID: [String: KeyDigest] = [:]
        /// Secrets replaced by rotation: the key's id and the retired secret.
        var retired: [KeyDigest: (id: String, secret: RetiredSecret)] = [:]

        mutating func insert(_ key: VirtualKey) {
            if let old = digestByID[key.id], old != key.digest { byDigest[old] = nil }
            byDigest[key.digest] = key
            digestByID[key.id] = key.digest
            for secret in key.retiredSecrets {
                retired[secret.digest] = (key.id, secret)
            }
        }
    }

    private let state = Mutex(State())

    package init(keys: [VirtualKey] = []) {
        replaceAll(with: keys)
    }

    package func replaceAll(with keys: [VirtualKey]) {
        var fresh = State()
        for key in keys {
            fresh.insert(key)
        }
        state.withLock { $0 = fresh }
    }

    /// Adds or replaces `key`.
    package func store(_ key: VirtualKey) {
        state.withLock { $0.insert(key) }
    }

    /// Adds or replaces `key` as another instance stored it, keeping this cache's later `last_used_at`
    /// (the store catches up with it at the next batch). Returns the key it replaced.
    @discardableResult
    package func merge(_ key: VirtualKey) -> VirtualKey? {
        state.withLock { state in
            let previous = state.digestByID[key.id].flatMap { state.byDigest[$0] }
            var key = key
            if let used = previous?.lastUsedAt, key.lastUsedAt.map({ $0 < used }) ?? true { key.lastUsedAt = used }
            state.insert(key)
            return previous
        }
    }

    /// The key whose secret hashes to `digest`. The dictionary finds the candidate by hash; the final
    /// equality check on the digest is constant time (see ``KeyDigest``).
    package func key(for digest: KeyDigest) -> VirtualKey? {
        state.withLock { $0.byDigest[digest] }
    }

    /// The key a rotated-out secret belonged to, with that secret's generation and end of grace.
    package func retired(_ digest: KeyDigest) -> (key: VirtualKey, secret: RetiredSecret)? {
        state.withLock { state in
            guard let (id, secret) = state.retired[digest], let current = state.digestByID[id], let key = state.byDigest[current]
            else { return nil }
            return (key, secret)
        }
    }

    package func allKeys() -> [VirtualKey] {
        state.withLock { Array($0.byDigest.values) }
    }

    package func key(id: String) -> VirtualKey? {
        state.withLock { state in state.digestByID[id].flatMap { state.byDigest[$0] } }
    }

    /// Moves `last_used_at` forward for keys used in a flushed batch of calls.
    package func recordUse(_ lastUsed: [String: Date]) {
        state.withLock { state in
            for (id, time) in lastUsed {
                guard let digest = state.digestByID[id], var key = state.byDigest[digest] else { continue }
                if key.lastUsedAt.map({ $0 < time }) ?? true {
                    key.lastUsedAt = time
                    state.byDigest[digest] = key
                }
            }
        }
    }
}

/// Authenticates a presented credential against the cache.
package struct Authenticator: Sendable {
    let cache: KeyCache
    let now: @Sendable () -> Date

    package init(cache: KeyCache, now: @escaping @Sendable () -> Date = Date.init) {
        self.cache = cache
        self.now = now
    }

    /// Why a credential was refused, and the key it belongs to when it is a known one (a revoked key's
    /// calls are logged against that key, so an operator sees who still uses it).
    package struct Failure: Error {
        package var error: GatewayError
        package var key: VirtualKey?
        package var generation: Int?
    }

    /// An accepted credential: the key, and which generation of its secret was presented.
    package struct Success {
        package var key: VirtualKey
        package var generation: Int
    }

    /// The active key for `presented`, or why it is refused. A secret replaced by rotation works until
    /// its grace period ends, then is refused with `key_rotated`.
    package func authenticate(_ presented: String?) -> Result<Success, Failure> {
        guard let presented, !presented.isEmpty else { return .failure(Failure(error: .missingKey)) }
        // A well-formed Perimeter key has a valid checksum; anything else is refused without a lookup.
        guard TokenFormat.hasValidChecksum(presented) else { return .failure(Failure(error: .invalidKey)) }
        let digest = KeyDigest(of: presented)
        if let key = cache.key(for: digest) {
            // A canary answers exactly like an unknown key; the record still names it, for the alert.
            if key.isCanary { return .failure(Failure(error: .invalidKey, key: key, generation: key.generation)) }
            if key.isRevoked { return .failure(Failure(error: .keyRevoked, key: key, generation: key.generation)) }
            return .success(Success(key: key, generation: key.generation))
        }
        guard let (key, secret) = cache.retired(digest) else { return .failure(Failure(error: .invalidKey)) }
        if key.isRevoked { return .failure(Failure(error: .keyRevoked, key: key, generation: secret.generation)) }
        guard now() < secret.retiresAt else {
            return .failure(Failure(error: .keyRotated, key: key, generation: secret.generation))
        }
        return .success(Success(key: key, generation: secret.generation))
    }
}
