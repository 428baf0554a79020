import Foundation
import PerimeterCore
import PerimeterStorage
import Testing

@Suite struct BudgetBookTests {
    let now = Timestamp.parse("2025-11-26T12:00:00Z")!
    let daily = Budget(limit: Money(nanos: 1000), period: .day)
    let monthly = Budget(limit: Money(nanos: 10_000), period: .month)

    func key(_ name: String, env: String, budget: Budget?) -> VirtualKey {
        var key = VirtualKey.issue(name: name, env: env, owner: nil, now: now).0
        key.policy.budget = budget
        return key
    }

    @Test func aKeyCountsTowardItsOwnBudgetThenItsEnvironments() {
        let book = BudgetBook(ledger: LocalLedger(), environmentBudgets: ["prod": monthly])
        let both = key("a", env: "prod", budget: daily)
        #expect(book.claims(for: both) == [BudgetClaim(.key(both.id), daily), BudgetClaim(.environment("prod"), monthly)])
        let environmentOnly = key("b", env: "prod", budget: nil)
        #expect(book.claims(for: environmentOnly) == [BudgetClaim(.environment("prod"), monthly)])
        let neither = key("c", env: "dev", budget: nil)
        #expect(book.claims(for: neither).isEmpty)
    }

    @Test func everyBudgetInForceLeavesOutRevokedKeys() {
        let book = BudgetBook(ledger: LocalLedger(), environmentBudgets: ["prod": monthly, "dev": daily])
        let live = key("live", env: "prod", budget: daily)
        var revoked = key("gone", env: "prod", budget: daily)
        revoked.revokedAt = now
        #expect(
            book.allClaims(keys: [live, revoked]) == [
                BudgetClaim(.key(live.id), daily), BudgetClaim(.environment("dev"), daily),
                BudgetClaim(.environment("prod"), monthly),
            ])
    }

    @Test func statusReadsTheLedgerBehindIt() async throws {
        let ledger = LocalLedger()
        let book = BudgetBook(ledger: ledger, environmentBudgets: ["prod": monthly])
        let spender = key("a", env: "prod", budget: daily)
        #expect(try await ledger.reserve(id: "r1", amount: Money(nanos: 300), against: book.claims(for: spender), at: now) == nil)
        await ledger.settle(id: "r1", actual: Money(nanos: 250))
        let status = await book.status(for: spender, at: now)
        #expect(status.key?.spent == Money(nanos: 250))
        #expect(status.environment?.spent == Money(nanos: 250))
        let unbudgeted = await book.status(for: key("b", env: "dev", budget: nil), at: now)
        #expect(unbudgeted.key == nil && unbudgeted.environment == nil)
    }
}
