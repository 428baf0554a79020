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
    }

    private let state = Mutex(State())

    package init(keys: [VirtualKey] = []) {
        replaceAll(with: keys)
    }

    package func replaceAll(with keys: [VirtualKey]) {
        var fresh = State()
        for key in keys {
            fresh.byDigest[key.digest] = key
            fresh.digestByID[key.id] = key.digest
        }
        state.withLock { $0 = fresh }
    }

    /// Adds or replaces `key`.
    package func store(_ key: VirtualKey) {
        state.withLock { state in
            if let old = state.digestByID[key.id], old != key.digest { state.byDigest[old] = nil }
            state.byDigest[key.digest] = key
            state.digestByID[key.id] = key.digest
        }
    }

    /// The key whose secret hashes to `digest`. The dictionary finds the candidate by hash; the final
    /// equality check on the digest is constant time (see ``KeyDigest``).
    package func key(for digest: KeyDigest) -> VirtualKey? {
        state.withLock { $0.byDigest[digest] }
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

    package init(cache: KeyCache) {
        self.cache = cache
    }

    /// Why a credential was refused, and the key it belongs to when it is a known one (a revoked key's
    /// calls are logged against that key, so an operator sees who still uses it).
    package struct Failure: Error {
        package var error: GatewayError
        package var key: VirtualKey?
    }

    /// The active key for `presented`, or why it is refused.
    package func authenticate(_ presented: String?) -> Result<VirtualKey, Failure> {
        guard let presented, !presented.isEmpty else { return .failure(Failure(error: .missingKey)) }
        // A well-formed Perimeter key has a valid checksum; anything else is refused without a lookup.
        guard TokenFormat.hasValidChecksum(presented), let key = cache.key(for: KeyDigest(of: presented)) else {
            return .failure(Failure(error: .invalidKey))
        }
        if key.isRevoked { return .failure(Failure(error: .keyRevoked, key: key)) }
        return .success(key)
    }
}
