import Foundation
import Logging
import PerimeterProxy
import PerimeterStorage
import ServiceLifecycle

/// Keeps this instance's budget leases alive (PostgreSQL only): every second it reports spend, gives
/// back what is idle, renews the leases and reclaims those of instances that died. At shutdown, after
/// the HTTP server has stopped, it counts every lease's spend into the pool and gives back the rest.
///
/// It also exchanges each key's demand with the other instances (``RateDemandBoard``) and tells the
/// rate limiter how many instances share each key's per-minute limits and what the others saw, so
/// each sizes its share by demand.
struct LeaseKeeper: Service {
    let ledger: LeasedLedger
    let rateLimiter: RateLimiter
    let board: any RateDemandBoard
    let logger: Logger
    var interval: Duration = .seconds(1)
    /// Set once the leases are returned (or could not be): the store closes after it.
    let finished = Finished()

    /// Reports this instance's demand, reads the others', and resizes the rate limiter's shares. Also
    /// run once before the server takes calls, so a starting instance never holds a whole limit.
    func shareLimits(at now: Date) async throws {
        let others = try await board.exchange(
            rateLimiter.demand(at: now), instance: ledger.instance, at: now, freshSince: now.addingTimeInterval(-5))
        // This instance is among the live ones only once its first lease renewal has marked it.
        let live = try await ledger.liveInstances(at: now)
        rateLimiter.setShares(instances: ledger.lastMaintained == nil ? live + 1 : live, elsewhere: others, now: now)
    }

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var isFailing = false
            var sharesFailing = false
            var lastShared = ContinuousClock.now
            while !Task.isCancelled {
                do {
                    try await shareLimits(at: Date())
                    sharesFailing = false
                    lastShared = .now
                } catch {
                    // Three seconds without an exchange: the others may stop counting this instance
                    // (they drop reports 5 s old), so it holds every key to its floor share.
                    if ContinuousClock.now - lastShared >= .seconds(3) { rateLimiter.holdToFloor(now: Date()) }
                    // The shares stay as they were until the database answers again.
                    if !sharesFailing { logger.warning("cannot exchange rate-limit demand", metadata: ["error": "\(error)"]) }
                    sharesFailing = true
                }
                do {
                    let now = Date()
                    try await ledger.maintain(at: now)
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
