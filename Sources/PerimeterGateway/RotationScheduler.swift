import Foundation
import Logging
import PerimeterAdmin
import PerimeterCore
import PerimeterProxy
import PerimeterRotation
import ServiceLifecycle

/// Rotates keys with a `--rotate-every` schedule when their current secret reaches that age, and
/// delivers each new secret to the key's target. Checks the in-memory cache every second; a failed
/// delivery leaves the key as it was and is tried again a minute later.
struct RotationScheduler: Service {
    let cache: KeyCache
    let rotator: KeyRotator
    let audit: AdminAudit
    let logger: Logger
    var tick: Duration = .seconds(1)

    init(cache: KeyCache, rotator: KeyRotator, audit: AdminAudit, logger: Logger) {
        self.cache = cache
        self.rotator = rotator
        self.audit = audit
        self.logger = logger
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
                for key in cache.allKeys() where !key.isRevoked {
                    guard let every = key.rotation?.everySeconds, key.secretIssuedAt.addingTimeInterval(Double(every)) <= now,
                        backoff[key.id].map({ $0 <= now }) ?? true
                    else { continue }
                    let grace = Duration.seconds(key.rotation?.graceSeconds ?? 86400)
                    do {
                        let (rotation, _) = try await rotator.rotate(id: key.id, grace: grace, idempotencyKey: nil, now: now)
                        backoff[key.id] = nil
                        try await audit.record(
                            "key.rotate", target: key.id,
                            details: [
                                "generation": .number(Int64(rotation.key.generation)), "scheduled": .flag(true),
                                "grace": .text(TimeWindow.describe(grace)),
                                "delivered_to": rotation.deliveredTo.map(AuditValue.text) ?? .json("null"),
                            ], actor: "scheduler", actorID: nil, address: nil, logger: logger)
                    } catch {
                        backoff[key.id] = now.addingTimeInterval(60)
                        logger.error(
                            "scheduled rotation of \(key.id) failed: \(error); the key keeps its current secret, next try in 60 s")
                    }
                }
            }
        }
    }
}
