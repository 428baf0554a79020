import Foundation
import Testing

@testable import PerimeterCore

/// The instance's side of leased budgets, step by step, with no pool: each test plays the pool's
/// answers by hand.
@Suite struct LeaseLedgerTests {
    // Wednesday 2025-11-26 12:00:00 UTC.
    let noon = Date(timeIntervalSince1970: 1_764_158_400)
    let key = BudgetScope.key("key_a")
    let env = BudgetScope.environment("prod")
    let budget = Budget(limit: Money(usd: 1), period: .day)
    let cent = Money(usd: 0.01)

    func counter(_ scope: BudgetScope, at date: Date? = nil) -> BudgetCounter {
        BudgetCounter(scope, .day, containing: date ?? noon)
    }

    func grant(_ added: Money, others: Money = .zero, spent: Money = .zero, epoch: Int64 = 1) -> LeaseLedger.Grant {
        LeaseLedger.Grant(added: added, othersCommitted: others, othersSpent: spent, epoch: epoch)
    }

    /// A ledger holding a lease of `granted` on the key's budget, valid for a minute, all of it reserved
    /// by the call "first".
    func leased(_ granted: Money, others: Money = .zero, epoch: Int64 = 1) -> LeaseLedger {
        var ledger = LeaseLedger()
        _ = ledger.reserve(id: "first", amount: granted, against: [(key, budget)], at: noon)
        ledger.grant(
            grant(granted, others: others, epoch: epoch), to: counter(key), need: .zero, validUntil: noon + 60, now: noon)
        let reserved = ledger.reserve(id: "first", amount: granted, against: [(key, budget)], at: noon, retry: true)
        precondition(reserved == .reserved, "\(reserved)")
        return ledger
    }

    @Test func aCallWithoutALeaseAsksForOneThenFitsIt() throws {
        var ledger = LeaseLedger()
        guard case .needsLease(let shortfalls) = ledger.reserve(id: "r1", amount: cent, against: [(key, budget)], at: noon)
        else { Issue.record("expected a shortfall"); return }
        let shortfall = try #require(shortfalls.first)
        #expect(shortfalls.count == 1)
        #expect(shortfall.need == cent && shortfall.step == cent && shortfall.limit == budget.limit)
        #expect(shortfall.calls == 16)  // the floor: no rate known yet
        #expect(ledger.openReservations == 0)  // nothing held while asking

        ledger.grant(grant(Money(usd: 0.16)), to: shortfall.counter, need: shortfall.need, validUntil: noon + 8, now: noon)
        #expect(ledger.reserve(id: "r1", amount: cent, against: [(key, budget)], at: noon, retry: true) == .reserved)
        #expect(ledger.openReservations == 1)
        #expect(ledger.leases[counter(key)]?.reserved == cent)
    }

    @Test func aRetryAfterThePoolAnsweredIsNotCountedAsASecondCall() {
        var ledger = LeaseLedger()
        _ = ledger.reserve(id: "r1", amount: cent, against: [(key, budget)], at: noon)
        ledger.grant(grant(cent), to: counter(key), need: cent, validUntil: noon + 8, now: noon)
        _ = ledger.reserve(id: "r1", amount: cent, against: [(key, budget)], at: noon, retry: true)
        #expect(ledger.leases[counter(key)]?.callsThisSecond == 1)
        // Every new call counts; a busy second sizes the next request at twice its rate.
        for index in 2...20 {
            _ = ledger.reserve(id: "r\(index)", amount: cent, against: [(key, budget)], at: noon + 0.5)
        }
        #expect(ledger.leases[counter(key)]?.callsThisSecond == 20)
        #expect(ledger.leases[counter(key)]?.callsAhead == 40)
        _ = ledger.reserve(id: "later", amount: cent, against: [(key, budget)], at: noon + 1.2)
        #expect(ledger.leases[counter(key)]?.callsLastSecond == 20)
        // A quiet gap of two seconds forgets the rate.
        _ = ledger.reserve(id: "quiet", amount: cent, against: [(key, budget)], at: noon + 4)
        #expect(ledger.leases[counter(key)]?.callsAhead == 16)
    }

    @Test func aLeasePastItsValidityIsNotSpentEvenWithRoomLeft() {
        var ledger = leased(Money(usd: 0.5))
        ledger.release(id: "first")
        #expect(ledger.reserve(id: "in-time", amount: cent, against: [(key, budget)], at: noon + 59) == .reserved)
        guard case .needsLease(let shortfalls) = ledger.reserve(id: "late", amount: cent, against: [(key, budget)], at: noon + 61)
        else { Issue.record("an expired lease must be renewed first"); return }
        // What it must be granted covers what is already committed here, since the old grant is gone.
        #expect(shortfalls.first?.need == cent + cent)
    }

    @Test func aFreshAnswerThatTheBudgetIsFullRefusesWithoutAsking() {
        var ledger = leased(Money(usd: 0.1), others: Money(usd: 0.9))
        ledger.settle(id: "first", actual: Money(usd: 0.1))
        // Within a second of the pool's answer: refused here, with what the cluster has committed.
        guard case .denied(let denial) = ledger.reserve(id: "over", amount: cent, against: [(key, budget)], at: noon + 0.5)
        else { Issue.record("expected a refusal"); return }
        #expect(denial.committed == Money(usd: 1))
        #expect(denial.scope == key)
        // An older answer may be out of date (others give back unused lease): ask again.
        guard case .needsLease = ledger.reserve(id: "over", amount: cent, against: [(key, budget)], at: noon + 2) else {
            Issue.record("a stale answer must be asked again"); return
        }
    }

    @Test func aCallOverTheWholeBudgetIsRefusedOutright() {
        var ledger = LeaseLedger()
        #expect(
            ledger.reserve(id: "huge", amount: Money(usd: 2), against: [(key, budget)], at: noon)
                == .denied(BudgetDenial(scope: key, budget: budget, committed: .zero, resetsAt: counter(key).periodEnd)))
    }

    @Test func everyBudgetOrNone() {
        var ledger = leased(Money(usd: 0.5))
        ledger.release(id: "first")
        // The key's lease has room, the environment's budget has no lease yet: nothing is held.
        guard case .needsLease(let shortfalls) = ledger.reserve(id: "r", amount: cent, against: [(key, budget), (env, budget)], at: noon)
        else { Issue.record("expected a shortfall"); return }
        #expect(shortfalls.map(\.counter) == [counter(env)])
        #expect(ledger.leases[counter(key)]?.reserved == .zero)
        #expect(ledger.openReservations == 0)
        ledger.grant(grant(cent), to: counter(env), need: cent, validUntil: noon + 8, now: noon)
        #expect(ledger.reserve(id: "r", amount: cent, against: [(key, budget), (env, budget)], at: noon, retry: true) == .reserved)
        ledger.settle(id: "r", actual: Money(usd: 0.004))
        #expect(ledger.leases[counter(key)]?.used == Money(usd: 0.004))
        #expect(ledger.leases[counter(env)]?.used == Money(usd: 0.004))
    }

    @Test func nearTheEndWhatACallLeavesGoesBackAtOnce() {
        var ledger = LeaseLedger()
        _ = ledger.reserve(id: "r", amount: cent, against: [(key, budget)], at: noon)
        // The pool could grant only the call itself: the budget is near its end.
        ledger.grant(grant(cent, others: Money(usd: 0.99)), to: counter(key), need: cent, validUntil: noon + 8, now: noon)
        #expect(ledger.leases[counter(key)]?.isNearEnd == true)
        _ = ledger.reserve(id: "r", amount: cent, against: [(key, budget)], at: noon, retry: true)
        let reports = ledger.settle(id: "r", actual: Money(usd: 0.003))
        #expect(reports == [LeaseLedger.Report(counter: counter(key), used: Money(usd: 0.003), giveBack: Money(usd: 0.007))])
        #expect(ledger.leases[counter(key)]?.granted == Money(usd: 0.003))
        // Far from the end, the rest stays for the next calls.
        var roomy = leased(Money(usd: 0.5))
        #expect(roomy.settle(id: "first", actual: cent).isEmpty)
        #expect(roomy.leases[counter(key)]?.unused == Money(usd: 0.49))
    }

    @Test func aReclaimedLeaseStartsAgainFromTheNewGrant() {
        var ledger = leased(Money(usd: 0.5), epoch: 1)
        ledger.settle(id: "first", actual: Money(usd: 0.2))
        // The pool reclaimed lease 1 (counting its 0.2 into the pool's spend) and granted lease 2.
        _ = ledger.reserve(id: "next", amount: Money(usd: 0.4), against: [(key, budget)], at: noon + 120)
        ledger.grant(
            grant(Money(usd: 0.4), others: Money(usd: 0.2), spent: Money(usd: 0.2), epoch: 2), to: counter(key),
            need: Money(usd: 0.4), validUntil: noon + 128, now: noon + 120)
        let lease = ledger.leases[counter(key)]
        #expect(lease?.used == .zero && lease?.granted == Money(usd: 0.4) && lease?.epoch == 2)
        // The status counts the old spend once, through the pool.
        #expect(ledger.status(of: key, budget: budget, at: noon + 120)?.spent == Money(usd: 0.2))
    }

    @Test func grantsOfOneLeaseAddUpInAnyOrder() {
        var ledger = leased(Money(usd: 0.1))
        ledger.grant(grant(Money(usd: 0.2)), to: counter(key), need: .zero, validUntil: noon + 60, now: noon)
        ledger.grant(grant(Money(usd: 0.3)), to: counter(key), need: .zero, validUntil: noon + 60, now: noon)
        #expect(ledger.leases[counter(key)]?.granted == Money(usd: 0.6))
    }

    @Test func reportsGiveBackIdleLeasesAndKeepBusyOnes() {
        var ledger = leased(Money(usd: 0.5))
        ledger.settle(id: "first", actual: Money(usd: 0.09))
        // Calls of a cent: sixteen of them are far less than the half dollar left in the pool.
        #expect(ledger.reserve(id: "small", amount: cent, against: [(key, budget)], at: noon) == .reserved)
        ledger.settle(id: "small", actual: cent)
        // Busy and far from the end: reported, nothing given back.
        #expect(ledger.reports(at: noon + 1, idleAfter: 5) == [.init(counter: counter(key), used: Money(usd: 0.1), giveBack: .zero)])
        // No call for longer than idleAfter: the unused part goes back, and is off the lease here first.
        #expect(
            ledger.reports(at: noon + 10, idleAfter: 5) == [
                .init(counter: counter(key), used: Money(usd: 0.1), giveBack: Money(usd: 0.4))
            ])
        #expect(ledger.leases[counter(key)]?.unused == .zero)
    }

    @Test func reportsNearTheEndGiveBackEvenWhenBusy() {
        // 0.97 is committed elsewhere; the last call was a cent, and fewer than 16 cents are left.
        var ledger = leased(cent + cent, others: Money(usd: 0.97))
        ledger.settle(id: "first", actual: cent)
        let reports = ledger.reports(at: noon + 1, idleAfter: 60)
        #expect(reports.first?.giveBack == cent)
    }

    @Test func thePoolsAnswerToAReport() {
        var ledger = leased(Money(usd: 0.5))
        ledger.settle(id: "first", actual: Money(usd: 0.1))
        _ = ledger.reserve(id: "open", amount: Money(usd: 0.1), against: [(key, budget)], at: noon)
        // Reclaimed while cut off: the lease keeps only what is spent or held here.
        ledger.renewed(
            counter(key), standing: (othersCommitted: Money(usd: 0.3), othersSpent: Money(usd: 0.2), wasReclaimed: true),
            validUntil: noon + 70, now: noon + 10)
        #expect(ledger.leases[counter(key)]?.granted == Money(usd: 0.2))
        #expect(ledger.leases[counter(key)]?.othersCommitted == Money(usd: 0.3))
        // Gone from the pool: nothing may be spent until a new grant.
        ledger.renewed(counter(key), standing: nil, validUntil: noon + 70, now: noon + 11)
        let lease = ledger.leases[counter(key)]
        #expect(lease?.granted == .zero && lease?.used == .zero && lease?.epoch == nil && lease?.validUntil == .distantPast)
    }

    @Test func endedPeriodsCloseOnceTheirCallsAreDone() {
        var ledger = leased(Money(usd: 0.5))
        let tomorrow = noon + 86400
        // A call still in flight keeps yesterday's lease open.
        #expect(ledger.closeEnded(at: tomorrow).isEmpty)
        ledger.settle(id: "first", actual: Money(usd: 0.25))
        #expect(
            ledger.closeEnded(at: tomorrow) == [.init(counter: counter(key), used: Money(usd: 0.25), giveBack: Money(usd: 0.25))])
        #expect(ledger.leases.isEmpty)
        // And at shutdown, every lease closes.
        var other = leased(Money(usd: 0.5))
        other.settle(id: "first", actual: cent)
        #expect(other.closeAll() == [.init(counter: counter(key), used: cent, giveBack: Money(usd: 0.49))])
        #expect(other.leases.isEmpty)
    }

    @Test func statusCountsOthersLeasesAsReserved() throws {
        var ledger = leased(Money(usd: 0.5), others: Money(usd: 0.3))
        ledger.grant(
            grant(.zero, others: Money(usd: 0.3), spent: Money(usd: 0.1)), to: counter(key), need: .zero, validUntil: noon + 60,
            now: noon)
        ledger.settle(id: "first", actual: Money(usd: 0.05))
        let status = try #require(ledger.status(of: key, budget: budget, at: noon))
        #expect(status.spent == Money(usd: 0.15))
        #expect(status.reserved == Money(usd: 0.2))
        #expect(ledger.status(of: env, budget: budget, at: noon) == nil)
    }
}
