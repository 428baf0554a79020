import Foundation
import PerimeterCore

/// Which budgets a key's calls count toward, and where they stand: the key's own budget and its
/// environment's. The proxy, the alert rules, the admin API and the metrics all ask this one type, so
/// they agree, and any ``Ledger`` (this instance's, or one shared by several) plugs in behind it.
public struct BudgetBook: Sendable {
    public let ledger: any Ledger
    /// `environments:` in config: budgets shared by every key of an environment.
    public let environmentBudgets: [String: Budget]

    public init(ledger: any Ledger, environmentBudgets: [String: Budget]) {
        self.ledger = ledger
        self.environmentBudgets = environmentBudgets
    }

    /// The key's own budget, if it has one.
    public func keyClaim(for key: VirtualKey) -> BudgetClaim? {
        key.policy.budget.map { BudgetClaim(.key(key.id), $0) }
    }

    /// The budget of environment `name`, if it has one.
    public func environmentClaim(_ name: String) -> BudgetClaim? {
        environmentBudgets[name].map { BudgetClaim(.environment(name), $0) }
    }

    /// Every budget a call with `key` counts toward: its own, then its environment's.
    public func claims(for key: VirtualKey) -> [BudgetClaim] {
        [keyClaim(for: key), environmentClaim(key.env)].compactMap { $0 }
    }

    /// Every budget in force: each active key's and each environment's.
    public func allClaims(keys: [VirtualKey]) -> [BudgetClaim] {
        keys.filter { !$0.isRevoked }.compactMap(keyClaim(for:))
            + environmentBudgets.keys.sorted().compactMap(environmentClaim)
    }

    public func status(of claim: BudgetClaim, at now: Date) async -> BudgetStatus {
        await ledger.status(of: claim, at: now)
    }

    /// Where the key's own budget and its environment's stand.
    public func status(for key: VirtualKey, at now: Date) async -> (key: BudgetStatus?, environment: BudgetStatus?) {
        var own: BudgetStatus?
        if let claim = keyClaim(for: key) { own = await ledger.status(of: claim, at: now) }
        var environment: BudgetStatus?
        if let claim = environmentClaim(key.env) { environment = await ledger.status(of: claim, at: now) }
        return (own, environment)
    }

    /// ``status(for:at:)`` of many keys, asking the ledger once (a list of keys, the inventory).
    public func statuses(for keys: [VirtualKey], at now: Date) async -> [(key: BudgetStatus?, environment: BudgetStatus?)] {
        var claims = keys.compactMap(keyClaim(for:))
        claims += Set(keys.map(\.env)).sorted().compactMap(environmentClaim)
        let statuses = await ledger.statuses(of: claims, at: now)
        let byClaim = Dictionary(zip(claims, statuses), uniquingKeysWith: { first, _ in first })
        return keys.map { key in
            (keyClaim(for: key).flatMap { byClaim[$0] }, environmentClaim(key.env).flatMap { byClaim[$0] })
        }
    }

    /// Seeds every budget in force from the call log: at start, before the first call.
    public func recover(keys: [VirtualKey], from log: any CallLog, at now: Date) async throws {
        try await ledger.recover(allClaims(keys: keys), from: log, at: now)
    }
}
