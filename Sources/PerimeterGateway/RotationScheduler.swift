import Foundation
import Logging
import PerimeterAdmin
import PerimeterCore
import PerimeterProxy
import PerimeterRotation
import PerimeterStorage
import ServiceLifecycle

/// Rotates keys with a `--rotate-every` schedule when their current secret reaches that age, and
/// delivers each new secret to the key's target. Checks the in-memory cache every second; a failed
/// delivery leaves the key as it was and is tried again a minute later.
///
/// Instances sharing a database rotate under one cluster lock, and each due key is read again from
/// the store under it, so a key is rotated (and its secret delivered) once, by one instance.
struct RotationScheduler: Service {
    let cache: KeyCache
    let rotator: KeyRotator
    let audit: AdminAudit
    let logger: Logger
    /// The store, to read a due key again under the lock; and the lock, when instances share the store.
    let keys: any KeyStore
    let lock: (any ClusterLock)?
    var tick: Duration = .seconds(1)
    /// Any fixed number: the cluster lock of scheduled rotations.
    static let lockID: Int64 = 0x5045_5249_524F_5441

    init(cache: KeyCache, rotator: KeyRotator, audit: AdminAudit, keys: any KeyStore, lock: (any ClusterLock)?, logger: Logger) {
        self.cache = cache
        self.rotator = rotator
        self.audit = audit
        self.keys = keys
        self.lock = lock
        self.logger = logger
    }

    static func isDue(_ key: VirtualKey, at now: Date) -> Bool {
        guard !key.isRevoked, let every = key.rotation?.everySeconds else { return false }
        return key.secretIssuedAt.addingTimeInterval(Double(every)) <= now
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var backoff: [String: Date] = [:]
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: tick)
                } catch {
                    return
                }
                let now = Date()
                let due = cache.allKeys().filter { key in
                    Self.isDue(key, at: now) && (backoff[key.id].map { $0 <= now } ?? true)
                }
                guard !due.isEmpty else { continue }
                // Returns the keys whose rotation failed.
                let work: @Sendable () async -> [String] = {
                    var failed: [String] = []
                    for key in due where await !rotate(key.id, now: now) { failed.append(key.id) }
                    return failed
                }
                var failed: [String] = []
                if let lock {
                    do {
                        failed = try await lock.ifFree(Self.lockID, work) ?? []
                    } catch {
                        logger.warning("scheduled rotations skipped: the cluster lock is unavailable (\(error))")
                    }
                } else {
                    failed = await work()
                }
                for key in due { backoff[key.id] = failed.contains(key.id) ? now.addingTimeInterval(60) : nil }
            }
        }
    }

    /// Rotates key `id` if it is still due; false when that failed.
    private func rotate(_ id: String, now: Date) async -> Bool {
        do {
            // Another instance may have rotated it a moment ago; the cache may not know yet.
            guard let key = try await keys.key(id: id), Self.isDue(key, at: now) else { return true }
            let grace = Duration.seconds(key.rotation?.graceSeconds ?? 86400)
            let (rotation, _) = try await rotator.rotate(id: key.id, grace: grace, idempotencyKey: nil, now: now)
            try await audit.record(
                "key.rotate", target: key.id,
                details: [
                    "generation": .number(Int64(rotation.key.generation)), "scheduled": .flag(true),
                    "grace": .text(TimeWindow.describe(grace)),
                    "delivered_to": rotation.deliveredTo.map(AuditValue.text) ?? .json("null"),
                ], actor: "scheduler", actorID: nil, address: nil, logger: logger)
            return true
        } catch {
            logger.error("scheduled rotation of \(id) failed: \(error); the key keeps its current secret, next try in 60 s")
            return false
        }
    }
}
