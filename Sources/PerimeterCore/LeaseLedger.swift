import Foundation

/// One gateway instance's side of budgets shared by several instances, as a value-type state machine.
///
/// A shared pool (PostgreSQL) holds each budget counter's settled spend and every instance's lease: an
/// amount the instance may commit in the period. The instance reserves and settles calls against its
/// own lease here, with no round trip; when a call does not fit, ``reserve(id:amount:against:at:)``
/// says which leases must grow, the caller asks the pool, hands the answer to
/// ``grant(_:to:validUntil:now:)`` and tries again. A lease is only good until `validUntil`: an
/// instance that cannot reach the pool stops spending before the pool hands the lease to others.
public struct LeaseLedger: Sendable {
    /// This instance's lease of one counter, and what it last heard of the others'.
    public struct Lease: Sendable, Hashable {
        public var limit: Money
        /// What this instance may commit in the period, spent and reserved together.
        public var granted = Money.zero
        /// Settled here in the period.
        public var used = Money.zero
        /// Held by calls in flight here.
        public var reserved = Money.zero
        /// Until when the grant may be spent: the pool's expiry, less a margin.
        public var validUntil = Date.distantPast
        /// The pool's settled spend plus every other instance's lease, as last heard.
        public var othersCommitted = Money.zero
        /// The part of `othersCommitted` that is spent, not merely leased.
        public var othersSpent = Money.zero
        /// When the pool last answered for this counter.
        public var heardAt = Date.distantPast
        /// When a call last asked for this counter.
        public var lastDemand: Date
        /// The size of the last call, for sizing what is asked next.
        public var lastAmount = Money.zero
        /// Calls in the current second and the one before: how fast this instance spends the lease.
        public var callsThisSecond: Int64 = 0
        public var callsLastSecond: Int64 = 0
        public var secondStart = Date.distantPast

        /// Calls a lease should cover before its instance asks again: two seconds at the recent rate,
        /// and never fewer than 16.
        public var callsAhead: Int64 { max(16, 2 * max(callsThisSecond, callsLastSecond)) }

        mutating func countCall(at now: Date) {
            let elapsed = now.timeIntervalSince(secondStart)
            if elapsed >= 1 {
                callsLastSecond = elapsed < 2 ? callsThisSecond : 0
                callsThisSecond = 0
                secondStart = now
            }
            callsThisSecond += 1
        }
        /// Which of the pool's leases this is: a new one after the pool reclaimed the old.
        public var epoch: Int64?
        /// The pool's last grant was the call alone, no headroom: the budget is near its end, so what a
        /// call leaves unused goes back at once rather than wait here while another instance refuses.
        public var isNearEnd = false

        /// Granted and not yet committed by a call here.
        public var unused: Money { max(.zero, granted - used - reserved) }
    }

    /// What a lease lacks for a call: at least `need` more, and up to `calls` more calls of `step` (the
    /// call's size) if the pool can spare them.
    public struct Shortfall: Sendable, Hashable {
        public var counter: BudgetCounter
        public var limit: Money
        public var need: Money
        public var step: Money
        public var calls: Int64
    }

    /// What the pool answered to a request for more.
    public struct Grant: Sendable, Hashable {
        /// Added to this instance's lease: at least the need asked for, or nothing.
        public var added: Money
        public var othersCommitted: Money
        public var othersSpent: Money
        /// Which lease the pool holds for this instance. A different one than before means the old lease
        /// expired and was reclaimed, and what it had used was counted into the pool's spend then.
        public var epoch: Int64

        public init(added: Money, othersCommitted: Money, othersSpent: Money, epoch: Int64) {
            self.added = added
            self.othersCommitted = othersCommitted
            self.othersSpent = othersSpent
            self.epoch = epoch
        }
    }

    /// What the instance tells the pool of one lease: its spend, and how much of its grant it gives back.
    public struct Report: Sendable, Hashable {
        public var counter: BudgetCounter
        public var used: Money
        public var giveBack: Money

        public init(counter: BudgetCounter, used: Money, giveBack: Money) {
            self.counter = counter
            self.used = used
            self.giveBack = giveBack
        }
    }

    public enum Reservation: Sendable, Hashable {
        case reserved
        case denied(BudgetDenial)
        /// The call fits none of its leases as they stand; ask the pool for these, then try again.
        case needsLease([Shortfall])
    }

    struct Hold: Sendable, Hashable {
        var counter: BudgetCounter
        var amount: Money
    }

    public private(set) var leases: [BudgetCounter: Lease] = [:]
    private var holds: [String: [Hold]] = [:]
    /// How many calls of the last size count as "near the end": with less than that left in the pool,
    /// unused lease goes back at each report, for other instances.
    public var nearEndCalls: Int64 = 16
    /// How old the pool's answer may be for a call to be refused on it without asking again.
    public var freshness: TimeInterval = 1

    public init() {}

    /// Reserves `amount` against every budget, or none; when a lease is short or no longer valid, says
    /// which, and reserves nothing. A call asked again after the pool's answer is a `retry`: it is not
    /// counted twice in the rate that sizes leases.
    public mutating func reserve(
        id: String, amount: Money, against budgets: [(BudgetScope, Budget)], at now: Date, retry: Bool = false
    ) -> Reservation {
        precondition(holds[id] == nil, "request \(id) already holds a reservation")
        var planned: [Hold] = []
        var shortfalls: [Shortfall] = []
        for (scope, budget) in budgets {
            let counter = BudgetCounter(scope, budget.period, containing: now)
            var lease = leases[counter] ?? Lease(limit: budget.limit, lastDemand: now)
            lease.limit = budget.limit
            lease.lastDemand = now
            lease.lastAmount = amount
            if !retry { lease.countCall(at: now) }
            leases[counter] = lease
            let committedHere = lease.used + lease.reserved
            let cluster = lease.othersCommitted + committedHere
            // Refused without asking: more than the whole budget, or more than is left by a recent answer
            // (an instance near the end gives its unused lease back within a second, so an answer that
            // counted it is soon out of date and asked again).
            if amount > budget.limit || (lease.heardAt >= now.addingTimeInterval(-freshness) && cluster + amount > budget.limit) {
                return .denied(denial(counter, budget: budget, committed: cluster))
            }
            if lease.validUntil > now, committedHere + amount <= lease.granted {
                planned.append(Hold(counter: counter, amount: amount))
            } else {
                let need = max(.zero, committedHere + amount - (lease.validUntil > now ? lease.granted : .zero))
                shortfalls.append(Shortfall(counter: counter, limit: budget.limit, need: need, step: amount, calls: lease.callsAhead))
            }
        }
        guard shortfalls.isEmpty else { return .needsLease(shortfalls) }
        for hold in planned {
            leases[hold.counter]?.reserved += hold.amount
        }
        if !planned.isEmpty { holds[id] = planned }
        return .reserved
    }

    /// Applies the pool's answer to a request for `need` more of `counter`'s lease.
    public mutating func grant(_ grant: Grant, to counter: BudgetCounter, need: Money, validUntil: Date, now: Date) {
        guard var lease = leases[counter] else { return }
        if let epoch = lease.epoch, epoch != grant.epoch {
            // What was used under a reclaimed lease is in the pool's spend now; calls still in flight
            // keep their reservations and count again when they settle, which only errs toward refusing.
            lease.used = .zero
            lease.granted = grant.added
        } else {
            // Grants of one lease add up in any order, so concurrent requests need no ordering.
            lease.granted += grant.added
        }
        lease.epoch = grant.epoch
        lease.isNearEnd = grant.added <= need
        lease.validUntil = validUntil
        lease.othersCommitted = grant.othersCommitted
        lease.othersSpent = grant.othersSpent
        lease.heardAt = now
        leases[counter] = lease
    }

    /// Why a call of `amount` does not fit `counter` after the pool was asked.
    public func denial(for counter: BudgetCounter, budget: Budget) -> BudgetDenial {
        let lease = leases[counter]
        let committed = (lease?.othersCommitted ?? .zero) + (lease?.used ?? .zero) + (lease?.reserved ?? .zero)
        return denial(counter, budget: budget, committed: committed)
    }

    private func denial(_ counter: BudgetCounter, budget: Budget, committed: Money) -> BudgetDenial {
        BudgetDenial(scope: counter.scope, budget: budget, committed: committed, resetsAt: counter.periodEnd)
    }

    /// Replaces the reservation of `id` with the call's actual cost, which counts in full. Returns the
    /// reports of leases near their budget's end, whose unused part (taken off here) the pool should
    /// have back now.
    @discardableResult
    public mutating func settle(id: String, actual: Money) -> [Report] {
        guard let taken = holds.removeValue(forKey: id) else { return [] }
        var giveBack: [Report] = []
        for hold in taken {
            guard var lease = leases[hold.counter] else { continue }
            lease.reserved -= hold.amount
            lease.used += actual
            if lease.isNearEnd, lease.unused > .zero {
                giveBack.append(Report(counter: hold.counter, used: lease.used, giveBack: lease.unused))
                lease.granted -= lease.unused
            }
            leases[hold.counter] = lease
        }
        return giveBack
    }

    @discardableResult
    public mutating func release(id: String) -> [Report] {
        settle(id: id, actual: .zero)
    }

    /// Where a budget stands as this instance knows it, or `nil` when it holds no lease of it.
    /// Other instances' leases not yet spent count as reserved.
    public func status(of scope: BudgetScope, budget: Budget, at now: Date) -> BudgetStatus? {
        let counter = BudgetCounter(scope, budget.period, containing: now)
        guard let lease = leases[counter] else { return nil }
        return BudgetStatus(
            budget: budget, periodStart: counter.periodStart, resetsAt: counter.periodEnd, spent: lease.othersSpent + lease.used,
            reserved: lease.reserved + max(.zero, lease.othersCommitted - lease.othersSpent))
    }

    /// The periodic report of every lease: its spend, and its unused grant given back when no call
    /// asked for it within `idleAfter`, or when the budget is near its end (others may need it). Gives
    /// the amount back here first, so it is never spent twice.
    public mutating func reports(at now: Date, idleAfter: TimeInterval) -> [Report] {
        var reports: [Report] = []
        for (counter, var lease) in leases {
            let isIdle = lease.lastDemand < now.addingTimeInterval(-idleAfter)
            let leftInPool = lease.limit - lease.othersCommitted - lease.granted
            let isNearEnd = leftInPool < Money(nanos: Int64.saturating(lease.lastAmount.nanos, times: nearEndCalls))
            let giveBack = isIdle || isNearEnd ? lease.unused : .zero
            lease.granted -= giveBack
            leases[counter] = lease
            reports.append(Report(counter: counter, used: lease.used, giveBack: giveBack))
        }
        return reports
    }

    /// Applies the pool's answer to the periodic report: `nil` for a lease the pool no longer has. A
    /// lease the pool had reclaimed holds only what is spent or reserved here now.
    public mutating func renewed(
        _ counter: BudgetCounter, standing: (othersCommitted: Money, othersSpent: Money, wasReclaimed: Bool)?, validUntil: Date, now: Date
    ) {
        guard var lease = leases[counter] else { return }
        if let standing {
            lease.othersCommitted = standing.othersCommitted
            lease.othersSpent = standing.othersSpent
            lease.validUntil = validUntil
            if standing.wasReclaimed { lease.granted = min(lease.granted, lease.used + lease.reserved) }
        } else {
            lease.used = .zero
            lease.granted = .zero
            lease.validUntil = .distantPast
            lease.epoch = nil
        }
        lease.heardAt = now
        leases[counter] = lease
    }

    /// Removes the leases of periods that have ended with no call in flight, and returns their final
    /// reports, for the pool to count into its spend.
    public mutating func closeEnded(at now: Date) -> [Report] {
        var reports: [Report] = []
        for (counter, lease) in leases where lease.reserved == .zero && (counter.periodEnd.map { $0 <= now } ?? false) {
            reports.append(Report(counter: counter, used: lease.used, giveBack: lease.unused))
            leases[counter] = nil
        }
        return reports
    }

    /// Every lease's final report, at shutdown, when no call is in flight.
    public mutating func closeAll() -> [Report] {
        let reports = leases.map { Report(counter: $0.key, used: $0.value.used, giveBack: $0.value.unused) }
        leases.removeAll()
        return reports
    }

    public var openReservations: Int { holds.count }
}
