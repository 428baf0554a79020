import Foundation

/// Who a budget belongs to: one key, or every key of an environment together.
public enum BudgetScope: Sendable, Hashable, CustomStringConvertible {
    case key(String)
    case environment(String)

    public var description: String {
        switch self {
        case .key(let id): "key \(id)"
        case .environment(let name): "environment \(name)"
        }
    }

    /// `key:ID` or `env:NAME`: how alerts and metrics name a budget.
    public var label: String {
        switch self {
        case .key(let id): "key:\(id)"
        case .environment(let name): "env:\(name)"
        }
    }
}

/// Why a reservation did not fit: which budget, its limit, what is committed, and when it resets.
public struct BudgetDenial: Sendable, Hashable, Error {
    public var scope: BudgetScope
    public var budget: Budget
    /// Settled spend plus open reservations in the current period.
    public var committed: Money
    public var resetsAt: Date?
}

/// Spend and reservations of one budget in its current period.
public struct BudgetStatus: Sendable, Hashable {
    public var budget: Budget
    public var periodStart: Date
    public var resetsAt: Date?
    public var spent: Money
    public var reserved: Money

    public var remaining: Money { max(.zero, budget.limit - spent - reserved) }

    public init(budget: Budget, periodStart: Date, resetsAt: Date?, spent: Money, reserved: Money) {
        self.budget = budget
        self.periodStart = periodStart
        self.resetsAt = resetsAt
        self.spent = spent
        self.reserved = reserved
    }
}

/// One budget's spend in one period. The start of the period is part of its identity, so a new period
/// starts from zero without a reset job, and a call reserved before midnight settles into the period it
/// was reserved in.
public struct BudgetCounter: Hashable, Sendable, CustomStringConvertible {
    public var scope: BudgetScope
    public var period: BudgetPeriod
    public var periodStart: Date

    public init(_ scope: BudgetScope, _ period: BudgetPeriod, containing date: Date) {
        self.scope = scope
        self.period = period
        periodStart = period.start(containing: date)
    }

    /// When the period ends; `nil` for `total`.
    public var periodEnd: Date? { period.end(containing: periodStart) }

    /// `key:ID|month|START_MS`: how a shared store names the counter.
    public var description: String {
        "\(scope.label)|\(period.rawValue)|\(Int64((periodStart.timeIntervalSince1970 * 1000).rounded()))"
    }
}

/// The budget ledger as a value-type state machine: reservations are taken against every budget a
/// call counts toward, all or nothing, and settled or released by request id.
///
/// A counter is identified by its scope and the start of its period, so a new period starts from zero
/// without a reset job, and a call reserved before midnight settles into the period it was reserved in.
/// Because a reservation is the call's worst case and commits before the call is forwarded, concurrent
/// calls can never together pass a budget: the check and the commitment are one step.
public struct BudgetLedger: Sendable {
    struct Counter: Sendable {
        var spent = Money.zero
        var reserved = Money.zero
    }

    struct Hold: Sendable {
        var counter: BudgetCounter
        var amount: Money
    }

    private(set) var counters: [BudgetCounter: Counter] = [:]
    private(set) var holds: [String: [Hold]] = [:]

    public init() {}

    /// Reserves `amount` against every budget in `budgets`, or none of them.
    public mutating func reserve(id: String, amount: Money, against budgets: [(BudgetScope, Budget)], at now: Date) -> BudgetDenial? {
        precondition(holds[id] == nil, "request \(id) already holds a reservation")
        var planned: [Hold] = []
        for (scope, budget) in budgets {
            let counterID = BudgetCounter(scope, budget.period, containing: now)
            let counter = counters[counterID] ?? Counter()
            let committed = counter.spent + counter.reserved
            if committed + amount > budget.limit {
                return BudgetDenial(scope: scope, budget: budget, committed: committed, resetsAt: budget.period.end(containing: now))
            }
            planned.append(Hold(counter: counterID, amount: amount))
        }
        for hold in planned {
            counters[hold.counter, default: Counter()].reserved += hold.amount
        }
        if !planned.isEmpty { holds[id] = planned }
        return nil
    }

    /// Replaces the reservation of `id` with the call's actual cost. The actual cost counts in full even
    /// when it exceeds the reservation (possible only if a provider bills past the request's limits).
    public mutating func settle(id: String, actual: Money) {
        guard let taken = holds.removeValue(forKey: id) else { return }
        for hold in taken {
            counters[hold.counter, default: Counter()].reserved -= hold.amount
            counters[hold.counter, default: Counter()].spent += actual
        }
    }

    /// Drops the reservation of `id`: the call failed before upstream usage.
    public mutating func release(id: String) {
        settle(id: id, actual: .zero)
    }

    /// Sets the settled spend of a budget's period to what was recorded elsewhere (the call log, at
    /// start-up or when a budget changes), keeping open reservations.
    public mutating func seed(_ scope: BudgetScope, budget: Budget, at now: Date, spent: Money) {
        counters[BudgetCounter(scope, budget.period, containing: now), default: Counter()].spent = spent
    }

    public func status(of scope: BudgetScope, budget: Budget, at now: Date) -> BudgetStatus {
        let id = BudgetCounter(scope, budget.period, containing: now)
        let counter = counters[id] ?? Counter()
        return BudgetStatus(
            budget: budget, periodStart: id.periodStart, resetsAt: budget.period.end(containing: now), spent: counter.spent,
            reserved: counter.reserved)
    }

    /// Forgets counters of periods that have ended and hold no reservation.
    public mutating func prune(at now: Date) {
        counters = counters.filter { id, counter in
            counter.reserved != .zero || (id.period.end(containing: id.periodStart).map { $0 > now } ?? true)
        }
    }

    public var openReservations: Int { holds.count }
}
