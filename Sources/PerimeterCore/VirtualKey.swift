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
    /// Which secret of the key is current: 1 at creation, one more at each rotation.
    public var generation: Int
    /// Secrets replaced by rotation, newest first: each keeps working until its `retiresAt`, then is
    /// answered with `key_rotated`.
    public var retiredSecrets: [RetiredSecret]
    public var rotatedAt: Date?
    /// Scheduled rotation and where new secrets are delivered, when set.
    public var rotation: RotationSchedule?
    /// A decoy: it never reaches a provider; any use answers like an unknown key and raises a critical alert.
    public var isCanary: Bool

    public init(
        id: String, name: String, env: String, owner: String?, prefix: String, digest: KeyDigest,
        createdAt: Date, revokedAt: Date? = nil, lastUsedAt: Date? = nil, policy: KeyPolicy = .unrestricted,
        generation: Int = 1, retiredSecrets: [RetiredSecret] = [], rotatedAt: Date? = nil, rotation: RotationSchedule? = nil,
        isCanary: Bool = false
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
        self.generation = generation
        self.retiredSecrets = retiredSecrets
        self.rotatedAt = rotatedAt
        self.rotation = rotation
        self.isCanary = isCanary
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

    /// How many replaced secrets a key remembers, so a caller still using one learns it was rotated.
    public static let retiredSecretsKept = 10

    /// The key with `secret` as its new current secret. The old one keeps working until `now + grace`
    /// (not at all with zero grace). Identity, limits and spend stay with the key's `id`.
    public func rotated(to secret: Secret, grace: Duration, now: Date) -> VirtualKey {
        var key = self
        let retiring = RetiredSecret(
            digest: digest, generation: generation, prefix: prefix,
            retiresAt: now.addingTimeInterval(Double(grace.components.seconds)))
        key.retiredSecrets = Array(([retiring] + retiredSecrets).prefix(Self.retiredSecretsKept))
        key.digest = KeyDigest(of: secret)
        key.prefix = TokenFormat.displayPrefix(of: secret)
        key.generation = generation + 1
        key.rotatedAt = now
        return key
    }

    /// When the current secret was issued.
    public var secretIssuedAt: Date { rotatedAt ?? createdAt }
}

/// A secret of a key that rotation replaced.
public struct RetiredSecret: Sendable, Hashable, Codable {
    public var digest: KeyDigest
    public var generation: Int
    public var prefix: String
    public var retiresAt: Date

    public init(digest: KeyDigest, generation: Int, prefix: String, retiresAt: Date) {
        self.digest = digest
        self.generation = generation
        self.prefix = prefix
        self.retiresAt = retiresAt
    }

    enum CodingKeys: String, CodingKey {
        case digest, generation, prefix
        case retiresAt = "retires_at"
    }
}

/// `--rotate-every` and `--deliver-to`: the key rotates itself on a schedule and writes each new
/// secret where its application reads it.
public struct RotationSchedule: Sendable, Hashable, Codable {
    /// Seconds between rotations; `nil` for delivery on manual rotation only.
    public var everySeconds: Int64?
    /// Seconds the previous secret keeps working after a scheduled rotation.
    public var graceSeconds: Int64
    /// A secret reference (`store:NAME` or `file:PATH`) each new secret is written to.
    public var deliverTo: String?

    public init(everySeconds: Int64?, graceSeconds: Int64, deliverTo: String?) {
        self.everySeconds = everySeconds
        self.graceSeconds = graceSeconds
        self.deliverTo = deliverTo
    }

    enum CodingKeys: String, CodingKey {
        case everySeconds = "every_seconds"
        case graceSeconds = "grace_seconds"
        case deliverTo = "deliver_to"
    }
}
