import Foundation
import PerimeterCore
import Synchronization

/// The ledger of one instance among several that share budgets through a ``BudgetPool``: calls are
/// reserved and settled against this instance's leases in memory (``LeaseLedger``); the pool is asked
/// only when a lease runs short, and ``maintain(at:)``, run every second or so, reports spend, gives
/// back what is idle, renews the leases and reclaims those of instances that died.
///
/// Fails closed: a call that needs more than its lease while the pool cannot be reached is refused
/// with ``GatewayError/ledgerUnavailable``, and a lease not renewed within its time to live is not
/// spent any more, so the pool can hand it to others once it expires.
public final class LeasedLedger: Ledger, Sendable {
    public let pool: any BudgetPool
    public let instance: String
    /// How long a lease lasts without renewal; a dead instance's lease is free again after this.
    public let leaseDuration: TimeInterval
    private let state: Mutex<LeaseLedger>
    private let lastMaintenance = Mutex<Date?>(nil)
    /// How many times a call asks the pool before it is refused: other calls here may take a grant first.
    private static let attempts = 4

    public init(pool: any BudgetPool, instance: String, leaseDuration: TimeInterval = 10) {
        self.pool = pool
        self.instance = instance
        self.leaseDuration = leaseDuration
        state = Mutex(LeaseLedger())
    }

    /// How long before the pool's expiry this instance stops spending a lease: clock skew between
    /// instances, and a renewal under way.
    private var margin: TimeInterval { max(1, leaseDuration / 5) }

    public func reserve(id: String, amount: Money, against claims: [BudgetClaim], at now: Date) async throws -> BudgetDenial? {
        let budgets = claims.map { ($0.scope, $0.budget) }
        for attempt in 0..<Self.attempts {
            switch state.withLock({ $0.reserve(id: id, amount: amount, against: budgets, at: now, retry: attempt > 0) }) {
            case .reserved:
                return nil
            case .denied(let denial):
                return denial
            case .needsLease(let shortfalls):
                for shortfall in shortfalls {
                    let asked = now
                    let grant: LeaseLedger.Grant
                    do {
                        grant = try await pool.acquire(
                            shortfall.counter, limit: shortfall.limit, need: shortfall.need, step: shortfall.step, calls: shortfall.calls,
                            instance: instance,
                            expiresAt: asked.addingTimeInterval(leaseDuration), at: asked)
                    } catch {
                        throw GatewayError.ledgerUnavailable
                    }
                    // Whatever the pool answered, the next attempt decides on it: with what it said of
                    // the others, a call that cannot fit is refused here without asking again.
                    state.withLock {
                        $0.grant(
                            grant, to: shortfall.counter, need: shortfall.need,
                            validUntil: asked.addingTimeInterval(leaseDuration - margin),
                            now: asked)
                    }
                }
            }
        }
        // Each grant went to other calls of this instance first; the pool is that close to its end.
        guard let claim = claims.first else { return nil }
        return state.withLock { $0.denial(for: BudgetCounter(claim.scope, claim.budget.period, containing: now), budget: claim.budget) }
    }

    public func settle(id: String, actual: Money) async {
        giveBack(state.withLock { $0.settle(id: id, actual: actual) })
    }

    public func release(id: String) async {
        giveBack(state.withLock { $0.release(id: id) })
    }

    /// Near a budget's end, what a finished call leaves of its lease goes back to the pool at once, off
    /// the call's path. If the pool cannot be reached, the amount is out of use (never spent twice)
    /// until this instance returns its leases.
    private func giveBack(_ reports: [LeaseLedger.Report]) {
        guard !reports.isEmpty else { return }
        let (pool, instance, duration) = (pool, instance, leaseDuration)
        Task {
            let now = Date()
            _ = try? await pool.renew(reports, instance: instance, expiresAt: now.addingTimeInterval(duration), at: now)
        }
    }

    public func status(of claim: BudgetClaim, at now: Date) async -> BudgetStatus {
        await statuses(of: [claim], at: now)[0]
    }

    /// A claim this instance holds no lease of is read from the pool: all of them in one round trip.
    public func statuses(of claims: [BudgetClaim], at now: Date) async -> [BudgetStatus] {
        let held = state.withLock { ledger in claims.map { ledger.status(of: $0.scope, budget: $0.budget, at: now) } }
        let counters = claims.map { BudgetCounter($0.scope, $0.budget.period, containing: now) }
        let missing = zip(counters, held).compactMap { $1 == nil ? $0 : nil }
        let standings = missing.isEmpty ? [:] : (try? await pool.standings(missing, at: now)) ?? [:]
        return zip(claims, zip(counters, held)).map { claim, entry in
            let (counter, held) = entry
            if let held { return held }
            let standing = standings[counter]
            return BudgetStatus(
                budget: claim.budget, periodStart: counter.periodStart, resetsAt: counter.periodEnd,
                spent: standing?.othersSpent ?? .zero,
                reserved: max(.zero, (standing?.othersCommitted ?? .zero) - (standing?.othersSpent ?? .zero)))
        }
    }

    /// Spend lives in the pool, which starts each counter from the call log itself.
    public func seed(_ claim: BudgetClaim, spent: Money, at now: Date) async {}

    public func recover(_ claims: [BudgetClaim], from log: any CallLog, at now: Date) async throws {}

    /// The periodic work: counts ended periods' leases into the pool, reports and renews the others,
    /// and reclaims expired leases of other instances. Throws when the pool cannot be reached; the
    /// leases then run out at their time, and calls that need more are refused.
    public func maintain(at now: Date, idleAfter: TimeInterval = 5) async throws {
        let ended = state.withLock { $0.closeEnded(at: now) }
        if !ended.isEmpty { try await pool.close(ended, instance: instance) }
        let reports = state.withLock { $0.reports(at: now, idleAfter: idleAfter) }
        let answers = try await pool.renew(reports, instance: instance, expiresAt: now.addingTimeInterval(leaseDuration), at: now)
        state.withLock { ledger in
            for (counter, standing) in answers {
                ledger.renewed(
                    counter, standing: standing.map { ($0.othersCommitted, $0.othersSpent, $0.wasReclaimed) },
                    validUntil: now.addingTimeInterval(leaseDuration - margin), now: now)
            }
        }
        _ = try await pool.sweep(at: now, deadBefore: now.addingTimeInterval(-leaseDuration))
        lastMaintenance.withLock { $0 = now }
    }

    /// The instances sharing the pool now, this one included.
    public func liveInstances(at now: Date) async throws -> Int {
        try await pool.liveInstances(at: now, since: now.addingTimeInterval(-leaseDuration))
    }

    /// When ``maintain(at:)`` last reached the pool.
    public var lastMaintained: Date? { lastMaintenance.withLock { $0 } }

    /// Counts every lease's spend into the pool and gives back the rest: at shutdown, after the last call.
    public func close() async throws {
        let reports = state.withLock { $0.closeAll() }
        try await pool.close(reports, instance: instance)
    }

    /// This instance's leases, for metrics and tests.
    public var leases: [BudgetCounter: LeaseLedger.Lease] { state.withLock { $0.leases } }
}
