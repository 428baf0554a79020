import Foundation

/// A virtual key as the gateway knows it: identity, ownership and lifecycle, and the digest of its
/// secret. The plaintext exists only in the response that created it.
public struct VirtualKey: Sendable, Hashable {
    /// Stable identifier, separate from the secret: `key_` and 16 base62 characters.
    public var id: String
    public var name: String
    public var env: String
    public var owner: String?
    /// The displayable start of the secret, e.g. `prm_prod_4fT9aQ`.
    public var prefix: String
    public var digest: KeyDigest
    public var createdAt: Date
    public var revokedAt: Date?
    public var lastUsedAt: Date?
    /// The key's limits, enforced on every call.
    public var policy: KeyPolicy

    public init(
        id: String, name: String, env: String, owner: String?, prefix: String, digest: KeyDigest,
        createdAt: Date, revokedAt: Date? = nil, lastUsedAt: Date? = nil, policy: KeyPolicy = .unrestricted
    ) {
        self.id = id
        self.name = name
        self.env = env
        self.owner = owner
        self.prefix = prefix
        self.digest = digest
        self.createdAt = createdAt
        self.revokedAt = revokedAt
        self.lastUsedAt = lastUsedAt
        self.policy = policy
    }

    public var isRevoked: Bool { revokedAt != nil }

    public static func makeID() -> String { "key_" + Base62.random(count: 16) }

    /// A new key record and its plaintext, which the caller shows once and then drops.
    public static func issue(
        name: String, env: String, owner: String?, policy: KeyPolicy = .unrestricted, now: Date
    ) -> (VirtualKey, Secret) {
        let secret = TokenFormat.makeVirtualKey(environment: env)
        let key = VirtualKey(
            id: makeID(), name: name, env: env, owner: owner, prefix: TokenFormat.displayPrefix(of: secret),
            digest: KeyDigest(of: secret), createdAt: now, policy: policy)
        return (key, secret)
    }
}
