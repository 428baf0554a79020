import Foundation
import PerimeterCore
import PerimeterProxy
import PerimeterSecrets
import PerimeterStorage

/// Rotates virtual keys: issues a new secret for the same key id (same limits, same spend), keeps the
/// old one working for a grace period, delivers the new secret where the key's application reads it,
/// and answers a retried request (same idempotency key) with the same new secret, on any instance
/// sharing the store and after a restart.
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
    /// Answers kept for retried requests, shared by every instance of the store, sealed.
    private let replays: any RotationReplayStore
    private let seal: RotationReplaySeal
    /// Rotations under way here, by Idempotency-Key: a retry arriving meanwhile waits for the first.
    private var inFlight: [String: (keyID: String, task: Task<(Rotation, replayed: Bool), any Error>)] = [:]

    /// How long a retry gets the first answer.
    static let replayLifetime: TimeInterval = 86400
    /// A claim this old and unfinished was left by an instance that died mid-rotation.
    static let staleClaim: TimeInterval = 60
    /// How long a retry waits for the same rotation running on another instance.
    static let waitForOther: Duration = .seconds(10)

    /// `masterKey`: the master key every instance shares, mixed into the sealing of replay answers;
    /// `nil` when there is none (a key of this process alone would not open them after a restart).
    package init(
        keys: any KeyStore, cache: KeyCache, targets: DeliveryTargets, policy: RotationPolicy,
        replays: any RotationReplayStore, masterKey: MasterKey? = nil
    ) {
        self.keys = keys
        self.cache = cache
        self.targets = targets
        self.policy = policy
        self.replays = replays
        seal = RotationReplaySeal(pepper: masterKey?.derivedKey(for: "rotation replay"))
    }

    /// Rotates key `id`; with an idempotency key, a retry (here or on another instance, for a day)
    /// returns the first answer instead of a third secret.
    package func rotate(id: String, grace: Duration, idempotencyKey: String?, now: Date = Date()) async throws -> (
        Rotation, replayed: Bool
    ) {
        guard let idempotencyKey else { return (try await perform(id: id, grace: grace, now: now), false) }
        if let running = inFlight[idempotencyKey] {
            guard running.keyID == id else { throw Self.otherKey }
            return (try await running.task.value.0, true)
        }
        let task = Task { try await self.rotateOnce(id: id, grace: grace, idempotencyKey: idempotencyKey, now: now) }
        inFlight[idempotencyKey] = (id, task)
        defer { inFlight[idempotencyKey] = nil }
        return try await task.value
    }

    private static let otherKey = GatewayError.conflict("This Idempotency-Key was already used to rotate another key.")

    /// Claims the Idempotency-Key in the shared store, then rotates; or answers from what the store holds.
    private func rotateOnce(id: String, grace: Duration, idempotencyKey: String, now: Date) async throws -> (
        Rotation, replayed: Bool
    ) {
        let lookup = seal.lookup(idempotencyKey)
        // A key that does not exist is refused before anything is claimed, so a retry is refused the same way.
        guard let current = try await keys.key(id: id) else { throw GatewayError.notFound("No key with id '\(id)'.") }
        let claim = RotationReplay(
            lookup: lookup, keyID: id, fromGeneration: current.generation, claimedAt: now,
            expiresAt: now.addingTimeInterval(Self.replayLifetime))
        let giveUpAt = ContinuousClock.now + Self.waitForOther
        while true {
            switch try await replays.claimRotationReplay(claim, staleBefore: Date().addingTimeInterval(-Self.staleClaim)) {
            case .claimed:
                return (try await performClaimed(claim, grace: grace, idempotencyKey: idempotencyKey, now: now), false)
            case .tookOver(let previous):
                // The instance that claimed it died; if the key moved on meanwhile, that rotation was made.
                if current.generation > previous.fromGeneration {
                    try await replays.finishRotationReplay(lookup: lookup, sealed: [])
                    throw Self.lostAnswer
                }
                return (try await performClaimed(claim, grace: grace, idempotencyKey: idempotencyKey, now: now), false)
            case .existing(let entry):
                guard entry.keyID == id else { throw Self.otherKey }
                guard let sealed = entry.sealed else {
                    // Running on another instance: wait for its answer a while.
                    guard ContinuousClock.now < giveUpAt else {
                        throw GatewayError.conflict(
                            "A rotation with this Idempotency-Key is still running; retry in a few seconds for its answer.")
                    }
                    try await Task.sleep(for: .milliseconds(200))
                    continue
                }
                guard !sealed.isEmpty else { throw Self.lostAnswer }
                guard let answer = seal.open(sealed, idempotencyKey: idempotencyKey, keyID: id) else {
                    throw GatewayError.conflict(
                        "The first rotation with this Idempotency-Key cannot be replayed here (sealed under another master key).")
                }
                return (try await replay(answer, id: id), true)
            }
        }
    }

    private static let lostAnswer = GatewayError.conflict(
        "The rotation with this Idempotency-Key was made, but its answer was lost when its gateway stopped; rotate again with a new Idempotency-Key."
    )

    /// Rotates under a claim, then stores the sealed answer. A rotation that failed before it changed
    /// the key gives the claim up, so a retry tries again.
    private func performClaimed(_ claim: RotationReplay, grace: Duration, idempotencyKey: String, now: Date) async throws -> Rotation {
        let rotation: Rotation
        do {
            rotation = try await perform(id: claim.keyID, grace: grace, now: now, expectedGeneration: claim.fromGeneration)
        } catch {
            // Given up only when the key is known not to have moved; if it cannot be read, the claim is left
            // to go stale, so a retry then decides on what the key is.
            let read: VirtualKey??
            do { read = .some(try await keys.key(id: claim.keyID)) } catch { read = nil }
            switch read {
            case .some(nil):
                // Deleted meanwhile: nothing was rotated.
                try? await replays.abandonRotationReplay(lookup: claim.lookup)
            case .some(let key?) where key.generation <= claim.fromGeneration:
                try? await replays.abandonRotationReplay(lookup: claim.lookup)
            default:
                break
            }
            throw error
        }
        let answer = RotationReplaySeal.Answer(
            secret: rotation.secret.revealed, generation: rotation.key.generation, previousGeneration: rotation.previousGeneration,
            previousRetiresAt: rotation.previousRetiresAt, deliveredTo: rotation.deliveredTo)
        // The rotation is made: its answer goes back even if the store cannot keep it for a retry.
        if let sealed = try? seal.seal(answer, idempotencyKey: idempotencyKey, keyID: claim.keyID) {
            try? await replays.finishRotationReplay(lookup: claim.lookup, sealed: sealed)
        }
        return rotation
    }

    /// The first answer again, with the key as it stands now.
    private func replay(_ answer: RotationReplaySeal.Answer, id: String) async throws -> Rotation {
        guard let key = try await keys.key(id: id) else { throw GatewayError.notFound("No key with id '\(id)'.") }
        var shown = key
        if let fresher = cache.key(id: id)?.lastUsedAt { shown.lastUsedAt = fresher }
        return Rotation(
            key: shown, secret: Secret(answer.secret), previousGeneration: answer.previousGeneration,
            previousRetiresAt: answer.previousRetiresAt, deliveredTo: answer.deliveredTo)
    }

    /// With `expectedGeneration`, the key is rotated only if it is still at that generation (a retry that
    /// took over a claim must not rotate a key its first attempt already rotated).
    private func perform(id: String, grace: Duration, now: Date, expectedGeneration: Int? = nil) async throws -> Rotation {
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
                    if let expectedGeneration, stored.generation != expectedGeneration {
                        throw GatewayError.conflict("Key '\(id)' was rotated meanwhile, by the first attempt with this Idempotency-Key.")
                    }
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
