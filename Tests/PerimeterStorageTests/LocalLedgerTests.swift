import Foundation
import PerimeterCore
import PerimeterStorage
import Testing

@Suite struct LocalLedgerTests {
    @Test(arguments: Backend.available)
    func recoversEachBudgetsSpendInItsCurrentPeriodFromTheCallLog(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let now = Timestamp.parse("2025-11-26T12:00:00Z")!
        func call(_ id: String, key: String, env: String, at time: String, nanos: Int64) -> CallRecord {
            CallRecord(
                id: id, time: Timestamp.parse(time)!, keyID: key, env: env, operation: .chat, status: 200, outcome: .ok,
                usage: Usage(inputTokens: 1), cost: Money(nanos: nanos))
        }
        try await store.append([
            call("r1", key: "key_a", env: "prod", at: "2025-11-26T01:00:00Z", nanos: 100),  // today
            call("r2", key: "key_a", env: "prod", at: "2025-11-25T23:00:00Z", nanos: 200),  // yesterday, this week
            call("r3", key: "key_b", env: "prod", at: "2025-11-02T00:00:00Z", nanos: 400),  // this month
            call("r4", key: "key_b", env: "prod", at: "2025-10-31T00:00:00Z", nanos: 800),  // last month
        ])
        let ledger = LocalLedger()
        let daily = BudgetClaim(.key("key_a"), Budget(limit: Money(nanos: 1000), period: .day))
        let weekly = BudgetClaim(.key("key_b"), Budget(limit: Money(nanos: 1000), period: .total))
        let monthly = BudgetClaim(.environment("prod"), Budget(limit: Money(nanos: 10_000), period: .month))
        try await ledger.recover([daily, weekly, monthly], from: store, at: now)
        #expect(await ledger.status(of: daily, at: now).spent == Money(nanos: 100))
        #expect(await ledger.status(of: weekly, at: now).spent == Money(nanos: 1200))
        #expect(await ledger.status(of: monthly, at: now).spent == Money(nanos: 700))
        // Recovered spend counts against new reservations.
        let denial = try await ledger.reserve(id: "new", amount: Money(nanos: 901), against: [daily], at: now)
        #expect(denial?.committed == Money(nanos: 100))
    }
}
