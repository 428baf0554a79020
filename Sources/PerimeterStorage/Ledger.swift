import Foundation
import PerimeterCore
import Synchronization

/// A budget a call counts toward.
public struct BudgetClaim: Sendable, Hashable {
    public var scope: BudgetScope
    public var budget: Budget

    public init(_ scope: BudgetScope, _ budget: Budget) {
        self.scope = scope
        self.budget = budget
    }
}

/// Budget reservations for calls in flight and spend per period.
///
/// The protocol is shaped for more than one gateway instance: an implementation over a shared
/// database can lease a slice of each budget's remainder, reserve against its lease in memory, and
/// renew or return the lease in the background, so `reserve` needs no round trip per call.
public protocol Ledger: Sendable {
    /// Reserves `amount` against every claim, or none; returns why not when it does not fit.
    func reserve(id: String, amount: Money, against claims: [BudgetClaim], at now: Date) async throws -> BudgetDenial?
    /// Replaces the reservation with the actual cost.
    func settle(id: String, actual: Money) async
    /// Drops the reservation: the call failed before upstream usage.
    func release(id: String) async
    func status(of claim: BudgetClaim, at now: Date) async -> BudgetStatus
    /// ``status(of:at:)`` of several claims, in their order: a ledger whose spend lives elsewhere asks once.
    func statuses(of claims: [BudgetClaim], at now: Date) async -> [BudgetStatus]
    /// Sets a budget's settled spend in its current period (a new budget starts at zero; a changed one
    /// from what the call log says).
    func seed(_ claim: BudgetClaim, spent: Money, at now: Date) async
    /// Seeds each claim's spend in its current period from the call log: at start, and when a budget
    /// changes. A ledger whose spend lives elsewhere does nothing.
    func recover(_ claims: [BudgetClaim], from log: any CallLog, at now: Date) async throws
}

extension BudgetScope {
    /// How the call log groups this scope's spend, and its group.
    package var spendGroup: (grouping: SpendGrouping, group: String) {
        switch self {
        case .key(let id): (.key, id)
        case .environment(let name): (.env, name)
        }
    }
}

extension Ledger {
    public func statuses(of claims: [BudgetClaim], at now: Date) async -> [BudgetStatus] {
        var statuses: [BudgetStatus] = []
        for claim in claims { statuses.append(await status(of: claim, at: now)) }
        return statuses
    }

    /// Reads each claim's spend in its current period from `log` and seeds it: how spend survives a
    /// restart, since every settled call is in the call log.
    public func recover(_ claims: [BudgetClaim], from log: any CallLog, at now: Date) async throws {
        var cache: [SpendQuery: [String: Money]] = [:]
        for claim in claims {
            let (grouping, group) = claim.scope.spendGroup
            let query = SpendQuery(groupBy: grouping, since: claim.budget.period.start(containing: now))
            if cache[query] == nil {
                cache[query] = Dictionary(try await log.spend(query).map { ($0.group, $0.cost) }, uniquingKeysWith: +)
            }
            await seed(claim, spent: cache[query]?[group] ?? .zero, at: now)
        }
    }
}

/// The ledger of a single gateway instance: the ``BudgetLedger`` state machine behind a mutex.
/// Durable through the call log: at start (and when a budget changes) each budget's spend in its
/// current period is seeded from the calls recorded so far.
public final class LocalLedger: Ledger, Sendable {
    private let state = Mutex(BudgetLedger())

    public init() {}

    public func reserve(id: String, amount: Money, against claims: [BudgetClaim], at now: Date) async throws -> BudgetDenial? {
        state.withLock { $0.reserve(id: id, amount: amount, against: claims.map { ($0.scope, $0.budget) }, at: now) }
    }

    public func settle(id: String, actual: Money) async {
        state.withLock { $0.settle(id: id, actual: actual) }
    }

    public func release(id: String) async {
        state.withLock { $0.release(id: id) }
    }

    public func status(of claim: BudgetClaim, at now: Date) async -> BudgetStatus {
        state.withLock { $0.status(of: claim.scope, budget: claim.budget, at: now) }
    }

    public func seed(_ claim: BudgetClaim, spent: Money, at now: Date) {
        state.withLock {
            $0.seed(claim.scope, budget: claim.budget, at: now, spent: spent)
            $0.prune(at: now)
        }
    }
}
