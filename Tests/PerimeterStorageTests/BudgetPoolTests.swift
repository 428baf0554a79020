import Foundation
import PerimeterCore
import PerimeterPostgres
import PerimeterStorage
import Testing

/// A budget pool shared by several instances, in memory and (with `POSTGRES_URL`) on PostgreSQL:
/// ledgers of different instances lease from one pool and together never pass a budget.
enum PoolBackend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case memory
    case postgres

    var testDescription: String { rawValue }

    static var available: [PoolBackend] {
        ProcessInfo.processInfo.environment["POSTGRES_URL"]?.isEmpty == false ? allCases : [.memory]
    }

    /// A pool and the call log it starts counters from.
    func makePool() async throws -> (pool: any BudgetPool, log: any CallLog, close: @Sendable () async -> Void) {
        switch self {
        case .memory:
            let log = MemoryStore()
            return (MemoryBudgetPool(log: log), log, {})
        case .postgres:
            let store = try await PostgresTestServer.freshStore()
            return (store, store, { await store.close() })
        }
    }
}

@Suite struct BudgetPoolTests {
    static let call = Money(nanos: 1_000)
    static let budget = BudgetClaim(.key("key_a"), Budget(limit: Money(nanos: 10_000), period: .month))

    @Test(arguments: PoolBackend.available)
    func threeInstancesTogetherServeExactlyWhatTheBudgetHolds(backend: PoolBackend) async throws {
        let (pool, _, close) = try await backend.makePool()
        let ledgers = (0..<3).map { LeasedLedger(pool: pool, instance: "gw_\($0)", leaseDuration: 10) }
        let now = Date()
        let served = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<200 {
                group.addTask {
                    let ledger = ledgers[index % 3]
                    let id = "call-\(index)"
                    guard try await ledger.reserve(id: id, amount: Self.call, against: [Self.budget], at: now) == nil else { return false }
                    await ledger.settle(id: id, actual: Self.call)
                    return true
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        // Never more than the budget; one call's worth may be split between leases for the moment.
        #expect((9...10).contains(served))
        // Near its end each instance gives its unused lease back at its next report, so nothing stays
        // stranded: what is left serves one more call.
        // Two rounds of reports: in the second each instance hears of what the others gave back in the first.
        for _ in 0..<2 {
            for ledger in ledgers { try await ledger.maintain(at: now) }
        }
        var more = 0
        for (index, ledger) in ledgers.enumerated()
        where try await ledger.reserve(id: "more-\(index)", amount: Self.call, against: [Self.budget], at: now) == nil {
            await ledger.settle(id: "more-\(index)", actual: Self.call)
            more += 1
        }
        #expect(served + more == 10)
        // At shutdown each instance counts its spend into the pool: the whole budget is spent, nothing more.
        for ledger in ledgers { try await ledger.close() }
        let standing = try await pool.standing(BudgetCounter(Self.budget.scope, .month, containing: now), at: now)
        #expect(standing.othersSpent == Money(nanos: 10_000))
        #expect(standing.othersCommitted == Money(nanos: 10_000))
        await close()
    }

    @Test(arguments: PoolBackend.available)
    func aLeaseGivenBackIsFreeForAnotherInstance(backend: PoolBackend) async throws {
        let (pool, _, close) = try await backend.makePool()
        let a = LeasedLedger(pool: pool, instance: "gw_a", leaseDuration: 10)
        let b = LeasedLedger(pool: pool, instance: "gw_b", leaseDuration: 10)
        let now = Date()
        // A alone: its first lease takes headroom beyond the call.
        #expect(try await a.reserve(id: "a1", amount: Self.call, against: [Self.budget], at: now) == nil)
        await a.settle(id: "a1", actual: Self.call)
        let granted = try #require(a.leases.values.first).granted
        #expect(granted > Self.call)
        // B wants all that is not spent: refused while A holds it, served once A gives it back when idle.
        let rest = Money(nanos: 9_000)
        #expect(try await b.reserve(id: "b1", amount: rest, against: [Self.budget], at: now) != nil)
        try await a.maintain(at: now.addingTimeInterval(6), idleAfter: 5)
        #expect(try await b.reserve(id: "b2", amount: rest, against: [Self.budget], at: now.addingTimeInterval(6)) == nil)
        #expect(try await b.reserve(id: "b3", amount: Money(nanos: 1), against: [Self.budget], at: now.addingTimeInterval(6)) != nil)
        await close()
    }

    /// A budget of a hundred calls, far enough from its end for leases with headroom.
    static let large = BudgetClaim(.key("key_a"), Budget(limit: Money(nanos: 100_000), period: .month))

    @Test(arguments: PoolBackend.available)
    func aDeadInstancesLeaseReturnsAfterItExpiresWithItsSpendCounted(backend: PoolBackend) async throws {
        let (pool, _, close) = try await backend.makePool()
        let dead = LeasedLedger(pool: pool, instance: "gw_dead", leaseDuration: 10)
        let alive = LeasedLedger(pool: pool, instance: "gw_alive", leaseDuration: 10)
        let now = Date()
        for index in 0..<3 {
            #expect(try await dead.reserve(id: "d\(index)", amount: Self.call, against: [Self.large], at: now) == nil)
            await dead.settle(id: "d\(index)", actual: Self.call)
        }
        try await dead.maintain(at: now)  // reports its spend of 3 calls, then it is killed
        let counter = BudgetCounter(Self.large.scope, .month, containing: now)
        #expect(try await pool.standing(counter, at: now).othersCommitted > Money(nanos: 3_000))
        // Before expiry nothing is reclaimed; after it the unspent part is free and the spend stays.
        try await alive.maintain(at: now.addingTimeInterval(5))
        #expect(try await pool.standing(counter, at: now).othersCommitted > Money(nanos: 3_000))
        try await alive.maintain(at: now.addingTimeInterval(11))
        let standing = try await pool.standing(counter, at: now)
        #expect(standing.othersSpent == Money(nanos: 3_000))
        #expect(standing.othersCommitted == Money(nanos: 3_000))
        #expect(
            try await alive.reserve(id: "all", amount: Money(nanos: 97_000), against: [Self.large], at: now.addingTimeInterval(11)) == nil)
        await close()
    }

    @Test(arguments: PoolBackend.available)
    func anInstanceCutOffLongerThanItsLeaseStillCountsWhatItSpentMeanwhile(backend: PoolBackend) async throws {
        let (pool, _, close) = try await backend.makePool()
        let cutOff = LeasedLedger(pool: pool, instance: "gw_cut", leaseDuration: 10)
        let other = LeasedLedger(pool: pool, instance: "gw_other", leaseDuration: 10)
        let now = Date()
        for index in 0..<3 {
            #expect(try await cutOff.reserve(id: "c\(index)", amount: Self.call, against: [Self.large], at: now) == nil)
        }
        await cutOff.settle(id: "c0", actual: Self.call)
        await cutOff.settle(id: "c1", actual: Self.call)
        try await cutOff.maintain(at: now)
        // Cut off: the other instance reclaims the lease after it expires, counting the two calls reported.
        try await other.maintain(at: now.addingTimeInterval(11))
        let counter = BudgetCounter(Self.large.scope, .month, containing: now)
        #expect(try await pool.standing(counter, at: now).othersCommitted == Money(nanos: 2_000))
        // Back: the call that was in flight meanwhile counts too, and the lease holds nothing more.
        await cutOff.settle(id: "c2", actual: Self.call)
        try await cutOff.maintain(at: now.addingTimeInterval(12))
        let standing = try await pool.standing(counter, at: now)
        #expect(standing.othersSpent == Money(nanos: 3_000) && standing.othersCommitted == Money(nanos: 3_000))
        #expect(try #require(cutOff.leases[counter]).unused == .zero)
        try await cutOff.close()
        #expect(try await pool.standing(counter, at: now).othersCommitted == Money(nanos: 3_000))
        await close()
    }

    /// Killed before it reported anything: what it spent is found in the call log, by the instance
    /// that wrote each call.
    @Test(.enabled(if: PoolBackend.available.contains(.postgres)))
    func aDeadInstancesUnreportedSpendIsCountedFromTheCallLog() async throws {
        let store = try await PostgresTestServer.freshStore()
        let dead = LeasedLedger(pool: store, instance: store.instance, leaseDuration: 10)
        let now = Date()
        #expect(try await dead.reserve(id: "req_dead", amount: Self.call, against: [Self.large], at: now) == nil)
        await dead.settle(id: "req_dead", actual: Self.call)
        try await store.append([
            CallRecord(
                id: "req_dead", time: now, keyID: "key_a", env: "prod", operation: .chat, status: 200, outcome: .ok,
                usage: Usage(inputTokens: 1), cost: Self.call)
        ])
        let alive = LeasedLedger(pool: store, instance: "gw_alive", leaseDuration: 10)
        try await alive.maintain(at: now.addingTimeInterval(11))
        let standing = try await store.standing(BudgetCounter(Self.large.scope, .month, containing: now), at: now)
        #expect(standing.othersSpent == Self.call && standing.othersCommitted == Self.call)
        await store.close()
    }

    /// The reclaim counts a call then in flight at its worst case, from its placeholder row; when its
    /// instance comes back, its own account (the actual cost) replaces that.
    @Test(.enabled(if: PoolBackend.available.contains(.postgres)))
    func aReturningInstancesOwnAccountReplacesWhatTheReclaimCounted() async throws {
        let store = try await PostgresTestServer.freshStore()
        let cutOff = LeasedLedger(pool: store, instance: store.instance, leaseDuration: 10)
        let other = LeasedLedger(pool: store, instance: "gw_other", leaseDuration: 10)
        let now = Date()
        let worstCase = Money(nanos: 5_000)
        #expect(try await cutOff.reserve(id: "req_1", amount: worstCase, against: [Self.large], at: now) == nil)
        var placeholder = CallRecord(
            id: "req_1", time: now, keyID: "key_a", env: "prod", operation: .chat, status: 0, outcome: .inFlight,
            usage: Usage(inputTokens: 1), cost: worstCase)
        placeholder.usageSource = .reserved
        try await store.append([placeholder])
        try await cutOff.maintain(at: now)
        try await other.maintain(at: now.addingTimeInterval(11))
        let counter = BudgetCounter(Self.large.scope, .month, containing: now)
        #expect(try await store.standing(counter, at: now).othersSpent == worstCase)
        await cutOff.settle(id: "req_1", actual: Self.call)
        try await cutOff.maintain(at: now.addingTimeInterval(12))
        let standing = try await store.standing(counter, at: now)
        #expect(standing.othersSpent == Self.call && standing.othersCommitted == Self.call)
        await store.close()
    }

    @Test(arguments: PoolBackend.available)
    func aNewCounterStartsFromTheCallLog(backend: PoolBackend) async throws {
        let (pool, log, close) = try await backend.makePool()
        let now = Date()
        try await log.append([
            CallRecord(
                id: "old", time: now.addingTimeInterval(-1), keyID: "key_a", env: "prod", operation: .chat, status: 200, outcome: .ok,
                usage: Usage(inputTokens: 1), cost: Money(nanos: 9_500))
        ])
        let ledger = LeasedLedger(pool: pool, instance: "gw_a", leaseDuration: 10)
        let denial = try await ledger.reserve(id: "c", amount: Self.call, against: [Self.budget], at: now)
        #expect(denial?.committed == Money(nanos: 9_500))
        #expect(try await ledger.reserve(id: "d", amount: Money(nanos: 500), against: [Self.budget], at: now) == nil)
        await close()
    }

    /// A list of keys reads every budget at once: those this instance leases from its lease, the
    /// others from the pool (each new counter started from the log), as one by one would.
    @Test(arguments: PoolBackend.available)
    func manyStatusesAtOnceAreEachOnesStatus(backend: PoolBackend) async throws {
        let (pool, log, close) = try await backend.makePool()
        let now = Date()
        try await log.append(
            ["key_a", "key_b", "key_b"].enumerated().map { index, key in
                CallRecord(
                    id: "old_\(index)", time: now.addingTimeInterval(-1), keyID: key, env: "prod", operation: .chat, status: 200,
                    outcome: .ok, usage: Usage(inputTokens: 1), cost: Money(nanos: 2_000))
            })
        let leasing = LeasedLedger(pool: pool, instance: "gw_a", leaseDuration: 10)
        #expect(try await leasing.reserve(id: "c", amount: Self.call, against: [Self.budget], at: now) == nil)
        let claims = [Self.budget] + ["key_b", "key_c"].map { BudgetClaim(.key($0), Self.budget.budget) }
        for ledger in [leasing, LeasedLedger(pool: pool, instance: "gw_b", leaseDuration: 10)] {
            let statuses = await ledger.statuses(of: claims, at: now)
            var one: [BudgetStatus] = []
            for claim in claims { one.append(await ledger.status(of: claim, at: now)) }
            #expect(statuses == one)
            #expect(statuses.map(\.spent) == [Money(nanos: 2_000), Money(nanos: 4_000), .zero])
        }
        #expect(await leasing.statuses(of: [], at: now).isEmpty)
        await close()
    }

    @Test func aLedgerThatCannotReachItsPoolFailsClosed() async throws {
        let ledger = LeasedLedger(pool: UnreachablePool(), instance: "gw_a", leaseDuration: 10)
        await #expect(throws: GatewayError.ledgerUnavailable) {
            _ = try await ledger.reserve(id: "c", amount: Self.call, against: [Self.budget], at: Date())
        }
    }
}

/// A pool whose every request fails, as when PostgreSQL is down.
struct UnreachablePool: BudgetPool {
    struct Down: Error {}
    func acquire(_: BudgetCounter, limit: Money, need: Money, step: Money, calls: Int64, instance: String, expiresAt: Date, at: Date)
        async throws
        -> LeaseLedger.Grant
    { throw Down() }
    func renew(_: [LeaseLedger.Report], instance: String, expiresAt: Date, at: Date) async throws -> [BudgetCounter: PoolStanding?] {
        throw Down()
    }
    func close(_: [LeaseLedger.Report], instance: String) async throws { throw Down() }
    func standing(_: BudgetCounter, at: Date) async throws -> PoolStanding { throw Down() }
    func sweep(at: Date, deadBefore: Date) async throws -> Int { throw Down() }
    func liveInstances(at: Date, since: Date) async throws -> Int { throw Down() }
}
