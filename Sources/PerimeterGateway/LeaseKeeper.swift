import Foundation
import Logging
import PerimeterProxy
import PerimeterStorage
import ServiceLifecycle

/// Keeps this instance's budget leases alive (PostgreSQL only): every second it reports spend, gives
/// back what is idle, renews the leases and reclaims those of instances that died. At shutdown, after
/// the HTTP server has stopped, it counts every lease's spend into the pool and gives back the rest.
///
/// It also tells the rate limiter how many instances share each key's per-minute limits.
struct LeaseKeeper: Service {
    let ledger: LeasedLedger
    let rateLimiter: RateLimiter
    let logger: Logger
    var interval: Duration = .seconds(1)
    /// Set once the leases are returned (or could not be): the store closes after it.
    let finished = Finished()

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var isFailing = false
            while !Task.isCancelled {
                do {
                    let now = Date()
                    try await ledger.maintain(at: now)
                    rateLimiter.setInstances(try await ledger.liveInstances(at: now))
                    if isFailing { logger.notice("budget leases renewed again") }
                    isFailing = false
                } catch {
                    if !isFailing {
                        logger.warning(
                            "cannot renew budget leases; calls go on within the current leases, then keys with a budget are refused with ledger_unavailable",
                            metadata: ["error": "\(error)"])
                    }
                    isFailing = true
                }
                try await Task.sleep(for: interval)
            }
        }
        do {
            // Even when a slow shutdown was escalated to cancellation (a task of its own is not cancelled).
            try await Task { try await ledger.close() }.value
        } catch {
            logger.warning(
                "could not return budget leases at shutdown; they return to the pool when they expire",
                metadata: ["error": "\(error)"])
        }
        finished.set()
    }
}
