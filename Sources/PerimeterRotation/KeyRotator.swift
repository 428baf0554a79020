import Foundation
import Logging
import PerimeterCore
import PerimeterProxy
import PerimeterSecrets
import PerimeterStorage

/// Rotates virtual keys: issues a new secret for the same key id (same limits, same spend), keeps the
/// old one working for a grace period, delivers the new secret where the key's application reads it,
/// and answers a retried request (same idempotency key) with the same new secret.
///
/// Nothing is half-done: the new secret is delivered first and committed only if delivery succeeded.
package actor KeyRotator {
    package struct Rotation: Sendable {
        package var key: VirtualKey
        package var secret: Secret
        package var previousGeneration: Int
        package var previousRetiresAt: Date
        package var deliveredTo: String?
    }

    private let keys: any KeyStore
    private let cache: KeyCache
    private let targets: DeliveryTargets
    private let policy: RotationPolicy
    /// Answers kept for retried requests, by idempotency key, for a day.
    private var answered: [String: (keyID: String, rotation: Rotation, until: Date)] = [:]
    private var inFlight: [String: Task<Rotation, any Error>] = [:]

    package init(keys: any KeyStore, cache: KeyCache, targets: DeliveryTargets, policy: RotationPolicy) {
        self.keys = keys
        self.cache = cache
        self.targets = targets
        self.policy = policy
    }

    /// Rotates key `id`; with an idempotency key, a retry returns the first answer instead of a third secret.
    package func rotate(id: String, grace: Duration, idempotencyKey: String?, now: Date = Date()) async throws -> (
        Rotation, replayed: Bool
    ) {
        answered = answered.filter { $0.value.until > now }
        guard let idempotencyKey else { return (try await perform(id: id, grace: grace, now: now), false) }
        if let previous = answered[idempotencyKey] {
            guard previous.keyID == id else {
                throw GatewayError.conflict("This Idempotency-Key was already used to rotate another key.")
            }
            return (previous.rotation, true)
        }
        if let running = inFlight[idempotencyKey] { return (try await running.value, true) }
        let task = Task { try await self.perform(id: id, grace: grace, now: now) }
        inFlight[idempotencyKey] = task
        defer { inFlight[idempotencyKey] = nil }
        let rotation = try await task.value
        answered[idempotencyKey] = (id, rotation, now.addingTimeInterval(86400))
        return (rotation, false)
    }

    private func perform(id: String, grace: Duration, now: Date) async throws -> Rotation {
        guard let current = try await keys.key(id: id) else { throw GatewayError.notFound("No key with id '\(id)'.") }
        guard !current.isRevoked else {
            throw GatewayError.conflict("Key '\(id)' is revoked; a revoked key cannot be rotated. Create a new key instead.")
        }
        guard grace >= .zero, grace <= .seconds(30 * 86400) else {
            throw GatewayError.invalidRequest("'grace' must be between 0s and 30d.")
        }
        if let maxAge = policy.maxAge(for: current.env), grace > maxAge {
            // The request is well formed; it conflicts with the environment's configured policy.
            throw GatewayError.conflict(
                "A grace period of \(TimeWindow.describe(grace)) is longer than the maximum key age of \(TimeWindow.describe(maxAge)) in env '\(current.env)'."
            )
        }
        let secret = TokenFormat.makeVirtualKey(environment: current.env)
        let target = current.rotation?.deliverTo
        if let target {
            try await targets.deliver(secret, to: target)
        }
        guard
            let rotated = try await keys.rotate(
                id: id,
                { stored in
                    guard !stored.isRevoked else { throw GatewayError.conflict("Key '\(id)' was revoked meanwhile.") }
                    return stored.rotated(to: secret, grace: grace, now: now)
                })
        else { throw GatewayError.notFound("No key with id '\(id)'.") }
        var cached = rotated
        if let fresher = cache.key(id: id)?.lastUsedAt { cached.lastUsedAt = fresher }
        cache.store(cached)
        return Rotation(
            key: cached, secret: secret, previousGeneration: current.generation,
            previousRetiresAt: now.addingTimeInterval(Double(grace.components.seconds)), deliveredTo: target)
    }

}

/// `rotation:` in config: how old keys may get, and when an unused key counts as stale.
public struct RotationPolicy: Sendable {
    /// `rotation.max_age`, per environment (`default` for the others).
    public var maxAges: [String: Duration] = [:]
    public var defaultMaxAge: Duration?
    /// `rotation.stale_after`: a key unused this long is flagged stale. Default 30 days.
    public var staleAfter: Duration = .seconds(30 * 86400)
    /// `rotation.expiring_within`: a key expiring this soon is flagged expiring. Default 7 days.
    public var expiringWithin: Duration = .seconds(7 * 86400)
    /// `rotation.credential_max_age`: a provider credential whose stored version is older is flagged. Default 90 days.
    public var credentialMaxAge: Duration = .seconds(90 * 86400)
    /// `rotation.delivery_directories`: the only directories `file:` delivery targets may be in. None
    /// by default, so an admin token alone cannot write files on the gateway's host.
    public var deliveryDirectories: [String] = []

    public init() {}

    public func maxAge(for env: String) -> Duration? { maxAges[env] ?? defaultMaxAge }
}
