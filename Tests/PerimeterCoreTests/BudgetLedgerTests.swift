import Foundation
import Testing

@testable import PerimeterCore

@Suite struct BudgetLedgerTests {
    // Wednesday 2025-11-26 12:00:00 UTC.
    let noon = Date(timeIntervalSince1970: 1_764_158_400)
    let key = BudgetScope.key("key_a")
    let env = BudgetScope.environment("prod")

    func dollars(_ value: Double) -> Money { Money(usd: value) }

    @Test func settlingBelowTheReservationReturnsTheRest() {
        var ledger = BudgetLedger()
        let budget = Budget(limit: dollars(1), period: .day)
        let outcome1 = ledger.reserve(id: "r1", amount: dollars(0.4), against: [(key, budget)], at: noon)
        #expect(outcome1 == nil)
        #expect(ledger.status(of: key, budget: budget, at: noon).reserved == dollars(0.4))
        ledger.settle(id: "r1", actual: dollars(0.1))
        let status = ledger.status(of: key, budget: budget, at: noon)
        #expect(status.spent == dollars(0.1))
        #expect(status.reserved == .zero)
        #expect(status.remaining == dollars(0.9))
        #expect(ledger.openReservations == 0)
    }

    @Test func settlingAtOrAboveTheReservationCountsTheActualCost() {
        var ledger = BudgetLedger()
        let budget = Budget(limit: dollars(1), period: .day)
        _ = ledger.reserve(id: "equal", amount: dollars(0.3), against: [(key, budget)], at: noon)
        ledger.settle(id: "equal", actual: dollars(0.3))
        _ = ledger.reserve(id: "above", amount: dollars(0.3), against: [(key, budget)], at: noon)
        ledger.settle(id: "above", actual: dollars(0.5))
        #expect(ledger.status(of: key, budget: budget, at: noon).spent == dollars(0.8))
        // Settling twice changes nothing.
        ledger.settle(id: "above", actual: dollars(0.5))
        #expect(ledger.status(of: key, budget: budget, at: noon).spent == dollars(0.8))
    }

    @Test func aReservationThatDoesNotFitIsDeniedWithWhyAndWhen() throws {
        var ledger = BudgetLedger()
        let budget = Budget(limit: dollars(1), period: .day)
        let outcome2 = ledger.reserve(id: "r1", amount: dollars(0.6), against: [(key, budget)], at: noon)
        #expect(outcome2 == nil)
        let r2 = ledger.reserve(id: "r2", amount: dollars(0.5), against: [(key, budget)], at: noon)
        let denial = try #require(r2)
        #expect(denial.scope == key)
        #expect(denial.committed == dollars(0.6))
        #expect(denial.resetsAt == Date(timeIntervalSince1970: 1_764_201_600))  // 2025-11-27 00:00 UTC
        // Exactly filling the budget is allowed.
        let outcome3 = ledger.reserve(id: "r3", amount: dollars(0.4), against: [(key, budget)], at: noon)
        #expect(outcome3 == nil)
    }

    @Test func releaseOnFailureFreesEverything() {
        var ledger = BudgetLedger()
        let budget = Budget(limit: dollars(1), period: .month)
        _ = ledger.reserve(id: "r1", amount: dollars(1), against: [(key, budget)], at: noon)
        let outcome4 = ledger.reserve(id: "r2", amount: dollars(0.01), against: [(key, budget)], at: noon)
        #expect(outcome4 != nil)
        ledger.release(id: "r1")
        #expect(ledger.status(of: key, budget: budget, at: noon).remaining == dollars(1))
        let outcome5 = ledger.reserve(id: "r3", amount: dollars(1), against: [(key, budget)], at: noon)
        #expect(outcome5 == nil)
    }

    @Test func aNewPeriodStartsFromZero() {
        var ledger = BudgetLedger()
        let budget = Budget(limit: dollars(1), period: .day)
        _ = ledger.reserve(id: "r1", amount: dollars(1), against: [(key, budget)], at: noon)
        ledger.settle(id: "r1", actual: dollars(1))
        let outcome6 = ledger.reserve(id: "r2", amount: dollars(0.1), against: [(key, budget)], at: noon)
        #expect(outcome6 != nil)
        let tomorrow = noon.addingTimeInterval(12 * 3600)  // 00:00 the next day
        let outcome7 = ledger.reserve(id: "r3", amount: dollars(0.1), against: [(key, budget)], at: tomorrow)
        #expect(outcome7 == nil)
        #expect(ledger.status(of: key, budget: budget, at: tomorrow).reserved == dollars(0.1))
        ledger.prune(at: tomorrow)
        #expect(ledger.status(of: key, budget: budget, at: noon).spent == .zero)
    }

    @Test func aCallReservedBeforeMidnightSettlesIntoItsOwnPeriod() {
        var ledger = BudgetLedger()
        let budget = Budget(limit: dollars(1), period: .day)
        let late = noon.addingTimeInterval(12 * 3600 - 1)
        _ = ledger.reserve(id: "r1", amount: dollars(0.5), against: [(key, budget)], at: late)
        ledger.settle(id: "r1", actual: dollars(0.2))
        #expect(ledger.status(of: key, budget: budget, at: late).spent == dollars(0.2))
        #expect(ledger.status(of: key, budget: budget, at: late.addingTimeInterval(2)).spent == .zero)
    }

    @Test func everyLevelMustFitAndNoneIsTakenWhenOneDoesNot() throws {
        var ledger = BudgetLedger()
        let keyBudget = Budget(limit: dollars(10), period: .day)
        let envBudget = Budget(limit: dollars(1), period: .month)
        let other = BudgetScope.key("key_b")
        let outcome8 = ledger.reserve(id: "a", amount: dollars(0.7), against: [(key, keyBudget), (env, envBudget)], at: noon)
        #expect(outcome8 == nil)
        let b = ledger.reserve(id: "b", amount: dollars(0.5), against: [(other, keyBudget), (env, envBudget)], at: noon)
        let denial = try #require(b)
        #expect(denial.scope == env)
        // The key-level counter of the denied call took nothing.
        #expect(ledger.status(of: other, budget: keyBudget, at: noon).reserved == .zero)
        ledger.settle(id: "a", actual: dollars(0.2))
        #expect(ledger.status(of: env, budget: envBudget, at: noon).spent == dollars(0.2))
        #expect(ledger.status(of: key, budget: keyBudget, at: noon).spent == dollars(0.2))
        let outcome9 = ledger.reserve(id: "c", amount: dollars(0.5), against: [(other, keyBudget), (env, envBudget)], at: noon)
        #expect(outcome9 == nil)
    }

    @Test func seededSpendCountsAndKeepsReservations() {
        var ledger = BudgetLedger()
        let budget = Budget(limit: dollars(1), period: .week)
        _ = ledger.reserve(id: "r1", amount: dollars(0.2), against: [(key, budget)], at: noon)
        ledger.seed(key, budget: budget, at: noon, spent: dollars(0.7))
        let status = ledger.status(of: key, budget: budget, at: noon)
        #expect(status.spent == dollars(0.7))
        #expect(status.reserved == dollars(0.2))
        let outcome10 = ledger.reserve(id: "r2", amount: dollars(0.2), against: [(key, budget)], at: noon)
        #expect(outcome10 != nil)
    }

    @Test(arguments: [
        (BudgetPeriod.day, "2025-11-26T00:00:00Z", "2025-11-27T00:00:00Z"),
        (.week, "2025-11-24T00:00:00Z", "2025-12-01T00:00:00Z"),
        (.month, "2025-11-01T00:00:00Z", "2025-12-01T00:00:00Z"),
    ])
    func periodsAreCalendarAlignedInUTC(period: BudgetPeriod, start: String, end: String) {
        #expect(period.start(containing: noon) == Timestamp.parse(start))
        #expect(period.end(containing: noon) == Timestamp.parse(end))
    }

    @Test func weeksStartOnMondayEvenOnSunday() {
        let sunday = Timestamp.parse("2025-11-30T23:59:59Z")!
        #expect(BudgetPeriod.week.start(containing: sunday) == Timestamp.parse("2025-11-24T00:00:00Z"))
        let monday = Timestamp.parse("2025-12-01T00:00:00Z")!
        #expect(BudgetPeriod.week.start(containing: monday) == monday)
        #expect(BudgetPeriod.total.end(containing: monday) == nil)
    }
}

@Suite struct TokenBucketTests {
    let t0 = Date(timeIntervalSince1970: 1_764_158_400)

    @Test func allowsTheRateThenRefills() {
        var bucket = TokenBucket(perMinute: 3, now: t0)
        let taken = (0..<4).map { _ in bucket.take(now: t0) }
        #expect(taken == [true, true, true, false])
        #expect(bucket.remaining(now: t0) == 0)
        #expect(abs(bucket.secondsUntilAvailable(now: t0) - 20) < 0.001)
        let later = (0..<2).map { _ in bucket.take(now: t0.addingTimeInterval(20)) }
        #expect(later == [true, false])
        #expect(bucket.remaining(now: t0.addingTimeInterval(600)) == 3)
    }

    @Test func tokenChargesCanGoNegativeAndBlockUntilRefilled() {
        var bucket = TokenBucket(perMinute: 1000, now: t0)
        let before = bucket.isAvailable(now: t0)
        bucket.charge(2500, now: t0)
        let after = bucket.isAvailable(now: t0)
        #expect(before && !after)
        // 1500 below zero plus one: 1501 tokens at 1000 per minute.
        #expect(abs(bucket.secondsUntilAvailable(now: t0) - 90.06) < 0.01)
        let refilled = bucket.isAvailable(now: t0.addingTimeInterval(91))
        #expect(refilled)
    }

    @Test func resetDurationsReadLikeOpenAIs() {
        #expect(RateLimitDuration.format(seconds: 0.25) == "250ms")
        #expect(RateLimitDuration.format(seconds: 12.2) == "13s")
        #expect(RateLimitDuration.format(seconds: 360) == "6m0s")
    }
}

@Suite struct PolicyTests {
    let now = Date(timeIntervalSince1970: 1_764_158_400)

    func call(
        _ operation: CallOperation = .chat, model: String? = "gpt-4o", ip: String? = "10.1.2.3", tools: [String] = [],
        declares: Bool = false
    )
        -> CallFacts
    {
        CallFacts(operation: operation, model: model, clientIP: ip.flatMap(IPAddress.init), toolNames: tools, declaresTools: declares)
    }

    @Test func anUnrestrictedKeyPassesEverything() {
        #expect(Policy.evaluate(.unrestricted, call: call(tools: ["x"]), now: now) == nil)
    }

    @Test func expiry() {
        let policy = KeyPolicy(expiresAt: now)
        #expect(Policy.evaluate(policy, call: call(), now: now) == .keyExpired(now))
        #expect(Policy.evaluate(policy, call: call(), now: now.addingTimeInterval(-1)) == nil)
    }

    @Test(arguments: [
        ("10.0.0.0/8", "10.200.3.4", true), ("10.0.0.0/8", "11.0.0.1", false), ("192.168.1.7", "192.168.1.7", true),
        ("192.168.1.7", "192.168.1.8", false), ("2001:db8::/32", "2001:db8:1::5", true), ("2001:db8::/32", "2001:db9::1", false),
        ("10.0.0.0/8", "::ffff:10.1.1.1", true), ("::1/128", "::1", true), ("0.0.0.0/0", "8.8.8.8", true),
        ("fe80::/10", "fe80::1%eth0", true),
    ])
    func ipAllowlist(rule: String, ip: String, allowed: Bool) throws {
        let policy = KeyPolicy(allowedIPs: [try #require(CIDR(rule))])
        #expect((Policy.evaluate(policy, call: call(ip: ip), now: now) == nil) == allowed)
    }

    @Test(arguments: [
        "10.0.0.0/33", "10.0.0/8", "1.2.3.4/", "::1/129", "2001:db8:::1", "1.2.3.256", "abc", "", "1.2.3.4/-1", "1:2:3:4:5:6:7:8:9",
    ])
    func malformedCIDRsAreRefused(text: String) {
        #expect(CIDR(text) == nil)
    }

    @Test func anUnknownClientAddressIsNotAllowedByAnAllowlist() {
        let policy = KeyPolicy(allowedIPs: [CIDR("0.0.0.0/0")!])
        #expect(Policy.evaluate(policy, call: call(ip: nil), now: now) == .ipNotAllowed)
    }

    @Test func operationsModelsAndTools() {
        let policy = KeyPolicy(allowedModels: [ModelPattern("gpt-4o*")], allowedOperations: [.chat, .models], tools: .only(["lookup"]))
        #expect(Policy.evaluate(policy, call: call(.embeddings), now: now) == .operationNotAllowed(.embeddings))
        #expect(Policy.evaluate(policy, call: call(model: "o3"), now: now) == .modelNotAllowed("o3"))
        #expect(Policy.evaluate(policy, call: call(tools: ["lookup"]), now: now) == nil)
        #expect(Policy.evaluate(policy, call: call(tools: ["lookup", "shell"]), now: now) == .toolsNotAllowed("shell"))
        let noTools = KeyPolicy(tools: .denied)
        #expect(Policy.evaluate(noTools, call: call(declares: true), now: now) == .toolsNotAllowed(nil))
        #expect(Policy.evaluate(noTools, call: call(), now: now) == nil)
    }
}
