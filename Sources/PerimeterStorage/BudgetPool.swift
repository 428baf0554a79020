import Foundation
import PerimeterCore

/// Where several gateway instances share budgets: each budget counter's settled spend and each
/// instance's lease of it (an amount the instance may commit, with an expiry). A ``LeasedLedger``
/// reserves calls against its leases in memory and talks to the pool only to grow, renew or return
/// them.
public protocol BudgetPool: Sendable {
    /// Adds to `instance`'s lease of `counter`: `need`, and as many more calls of `step` (up to
    /// `calls`, what the instance expects to make before it asks again) as leave a fair share for the
    /// other live instances; near a budget's end that is none, so leases shrink to single calls.
    /// Nothing when even `need` is not free. The lease expires at `expiresAt` unless renewed. A counter the pool
    /// does not know yet starts from the spend the call log holds for its period.
    func acquire(
        _ counter: BudgetCounter, limit: Money, need: Money, step: Money, calls: Int64, instance: String, expiresAt: Date, at now: Date
    ) async throws -> LeaseLedger.Grant

    /// Records each lease's spend, takes back what it gives back, extends it to `expiresAt`, and marks
    /// `instance` alive. Returns, per counter, what the other instances and the pool hold, or `nil` for
    /// a lease the pool no longer has. A lease reclaimed meanwhile (its instance was cut off longer
    /// than the lease) comes back holding only its spend, `wasReclaimed` set; spend reported after the
    /// reclaim beyond what the reclaim counted still counts.
    func renew(_ reports: [LeaseLedger.Report], instance: String, expiresAt: Date, at now: Date) async throws -> [BudgetCounter:
        PoolStanding?]

    /// Counts each lease's spend into its counter and drops the lease: at a period's end, and at shutdown.
    func close(_ reports: [LeaseLedger.Report], instance: String) async throws

    /// What the pool and every instance hold of `counter`, for an instance with no lease of it.
    func standing(_ counter: BudgetCounter, at now: Date) async throws -> PoolStanding

    /// ``standing(_:at:)`` of several counters at once: what a list of keys shows.
    func standings(_ counters: [BudgetCounter], at now: Date) async throws -> [BudgetCounter: PoolStanding]

    /// Reclaims leases past their expiry (their instance died or lost the pool): each one's spend, as
    /// last reported or as the call log shows, whichever is more, is counted and the rest is free again.
    /// The lease stays, holding nothing, so an instance that was only cut off can still report spend
    /// the log did not have yet. Also forgets instances not seen since `deadBefore`, and reclaimed
    /// leases a day old. Returns how many leases were reclaimed.
    func sweep(at now: Date, deadBefore: Date) async throws -> Int

    /// How many instances have reported within the lease time (this one included).
    func liveInstances(at now: Date, since: Date) async throws -> Int
}

/// What the pool holds of a counter apart from one instance: spend settled and leases of the others.
public struct PoolStanding: Sendable, Hashable {
    /// Settled spend plus every other lease (spent or not).
    public var othersCommitted: Money
    /// The spent part of `othersCommitted`.
    public var othersSpent: Money
    /// In an answer to `renew`: the pool had reclaimed this instance's lease.
    public var wasReclaimed = false

    public init(othersCommitted: Money, othersSpent: Money, wasReclaimed: Bool = false) {
        self.othersCommitted = othersCommitted
        self.othersSpent = othersSpent
        self.wasReclaimed = wasReclaimed
    }
}

extension BudgetPool {
    public func standings(_ counters: [BudgetCounter], at now: Date) async throws -> [BudgetCounter: PoolStanding] {
        var answer: [BudgetCounter: PoolStanding] = [:]
        for counter in counters { answer[counter] = try await standing(counter, at: now) }
        return answer
    }

    /// How much beyond `need` an acquisition adds: whole calls of `step`, at most `calls`, within half
    /// of what is left shared among the live instances. Whole calls, so no instance keeps a fraction of
    /// a call another could have used.
    package static func extra(need: Money, step: Money, calls: Int64, free: Money, instances: Int) -> Money {
        let spare = free - need
        guard spare > .zero, step > .zero else { return .zero }
        let share = spare.nanos / Int64(2 * max(1, instances))
        let count = min(max(0, calls), share / step.nanos)
        return Money(nanos: Int64.saturating(count, times: step.nanos))
    }
}
