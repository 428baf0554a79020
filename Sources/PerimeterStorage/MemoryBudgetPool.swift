import Foundation
import PerimeterCore
import Synchronization

/// The shared budget pool in memory, for tests of several ledgers in one process. A counter it does
/// not know starts from `log`'s spend for the period, if given; a reclaimed lease counts what it last
/// reported (this pool cannot see which instance made which call).
public final class MemoryBudgetPool: BudgetPool, Sendable {
    struct Lease {
        var granted: Money
        var used: Money
        var expiresAt: Date
        var epoch = Int64.random(in: 1...Int64.max)
        /// How much of `used` is in the pool's `spent` already (by a reclaim).
        var counted = Money.zero
        var isSwept = false

        /// What the lease holds beyond what the pool has counted.
        var held: Money { max(granted, used, counted) - counted }
    }

    struct Pool {
        var spent: Money
        var leases: [String: Lease] = [:]

        func standing(apart instance: String) -> PoolStanding {
            var committed = spent
            var spentAll = spent
            for (owner, lease) in leases where owner != instance {
                committed += lease.held
                spentAll += max(lease.used, lease.counted) - lease.counted
            }
            return PoolStanding(othersCommitted: committed, othersSpent: spentAll)
        }
    }

    struct State {
        var pools: [BudgetCounter: Pool] = [:]
        var seen: [String: Date] = [:]
    }

    private let state = Mutex(State())
    private let log: (any CallLog)?

    public init(log: (any CallLog)? = nil) {
        self.log = log
    }

    private func ensure(_ counter: BudgetCounter) async throws {
        guard state.withLock({ $0.pools[counter] == nil }) else { return }
        var spent = Money.zero
        if let log {
            let (grouping, group) = counter.scope.spendGroup
            spent =
                try await log.spend(SpendQuery(groupBy: grouping, since: counter.periodStart)).first { $0.group == group }?.cost ?? .zero
        }
        state.withLock { state in
            if state.pools[counter] == nil { state.pools[counter] = Pool(spent: spent) }
        }
    }

    public func acquire(
        _ counter: BudgetCounter, limit: Money, need: Money, step: Money, calls: Int64, instance: String, expiresAt: Date, at now: Date
    ) async throws -> LeaseLedger.Grant {
        try await ensure(counter)
        return state.withLock { state in
            state.seen[instance] = now
            // Instances not seen for a while are forgotten by `sweep`.
            let live = state.seen.count
            var pool = state.pools[counter]!
            let mine = pool.leases[instance]
            let standing = pool.standing(apart: instance)
            let free = limit - standing.othersCommitted - (mine?.held ?? .zero)
            var added = Money.zero
            if free >= need {
                added = need + Self.extra(need: need, step: step, calls: calls, free: free, instances: live)
            }
            var lease = mine ?? Lease(granted: .zero, used: .zero, expiresAt: expiresAt)
            lease.granted += added
            lease.expiresAt = expiresAt
            pool.leases[instance] = lease
            state.pools[counter] = pool
            return LeaseLedger.Grant(
                added: added, othersCommitted: standing.othersCommitted, othersSpent: standing.othersSpent, epoch: lease.epoch)
        }
    }

    public func renew(_ reports: [LeaseLedger.Report], instance: String, expiresAt: Date, at now: Date) async throws -> [BudgetCounter:
        PoolStanding?]
    {
        state.withLock { state in
            state.seen[instance] = now
            var answers: [BudgetCounter: PoolStanding?] = [:]
            for report in reports {
                guard var pool = state.pools[report.counter], var lease = pool.leases[instance] else {
                    answers[report.counter] = .some(nil)
                    continue
                }
                let wasReclaimed = lease.isSwept
                if wasReclaimed {
                    // The instance's own account replaces what the reclaim counted.
                    pool.spent += report.used - lease.counted
                    lease.counted = report.used
                }
                lease.used = report.used
                lease.granted = wasReclaimed ? report.used : max(report.used, lease.granted - report.giveBack)
                lease.expiresAt = expiresAt
                lease.isSwept = false
                pool.leases[instance] = lease
                state.pools[report.counter] = pool
                var standing = pool.standing(apart: instance)
                standing.wasReclaimed = wasReclaimed
                answers[report.counter] = standing
            }
            return answers
        }
    }

    public func close(_ reports: [LeaseLedger.Report], instance: String) async throws {
        state.withLock { state in
            for report in reports {
                guard var pool = state.pools[report.counter], let lease = pool.leases.removeValue(forKey: instance) else { continue }
                pool.spent += max(report.used, lease.used) - lease.counted
                state.pools[report.counter] = pool
            }
        }
    }

    public func standing(_ counter: BudgetCounter, at now: Date) async throws -> PoolStanding {
        try await ensure(counter)
        return state.withLock { $0.pools[counter]!.standing(apart: "") }
    }

    public func liveInstances(at now: Date, since: Date) async throws -> Int {
        state.withLock { $0.seen.values.filter { $0 >= since }.count }
    }

    public func sweep(at now: Date, deadBefore: Date) async throws -> Int {
        state.withLock { state in
            var reclaimed = 0
            for (counter, var pool) in state.pools {
                for (owner, var lease) in pool.leases where lease.expiresAt < now && !lease.isSwept {
                    let counted = max(lease.used, lease.counted)
                    pool.spent += counted - lease.counted
                    lease.counted = counted
                    lease.granted = .zero
                    lease.isSwept = true
                    pool.leases[owner] = lease
                    reclaimed += 1
                }
                for (owner, lease) in pool.leases where lease.isSwept && lease.expiresAt < now.addingTimeInterval(-86400) {
                    pool.leases[owner] = nil
                }
                state.pools[counter] = pool
            }
            state.seen = state.seen.filter { $0.value >= deadBefore }
            return reclaimed
        }
    }
}
