import Foundation
import PerimeterAdminModels
import PerimeterCore
import PerimeterRotation
import PerimeterSecrets
import PerimeterStorage

/// `perimeter inventory`: every virtual key and provider credential, with what is wrong with each, and
/// the leaked secrets that scans reported,
/// built as a pure function of what the gateway knows so its rules are tested with a fixed clock.
package struct InventoryReport: Codable, Sendable {
    package struct Key: Codable, Sendable {
        var id: String
        var name: String
        var env: String
        var owner: String?
        var generation: Int
        var createdAt: String
        var secretIssuedAt: String
        var ageDays: Int
        var rotationDue: String?
        var lastUsedAt: String?
        var lastClientIP: String?
        var spendUSD: Money
        var spendSince: String
        var budget: BudgetView?
        var status: String
        var flags: [String]

        enum CodingKeys: String, CodingKey {
            case id, name, env, owner, generation, createdAt = "created_at", secretIssuedAt = "secret_issued_at",
                ageDays = "age_days", rotationDue = "rotation_due", lastUsedAt = "last_used_at",
                lastClientIP = "last_client_ip", spendUSD = "spend_usd", spendSince = "spend_since", budget, status, flags
        }

        /// Every field, `null` when empty, so the JSON form has one shape.
        package func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(name, forKey: .name)
            try c.encode(env, forKey: .env)
            try c.encode(owner, forKey: .owner)
            try c.encode(generation, forKey: .generation)
            try c.encode(createdAt, forKey: .createdAt)
            try c.encode(secretIssuedAt, forKey: .secretIssuedAt)
            try c.encode(ageDays, forKey: .ageDays)
            try c.encode(rotationDue, forKey: .rotationDue)
            try c.encode(lastUsedAt, forKey: .lastUsedAt)
            try c.encode(lastClientIP, forKey: .lastClientIP)
            try c.encode(spendUSD, forKey: .spendUSD)
            try c.encode(spendSince, forKey: .spendSince)
            try c.encode(budget, forKey: .budget)
            try c.encode(status, forKey: .status)
            try c.encode(flags, forKey: .flags)
        }
    }

    package struct Credential: Codable, Sendable {
        var reference: String
        var store: String
        var status: String
        var version: String?
        var versionDate: String?
        /// Key Vault's `updated`: an attribute change (enabled, tags), not a new value, so the age and
        /// `over_max_age` stay on `versionDate`: editing a tag must not make an old key look new.
        var versionUpdated: String?
        var ageDays: Int?
        var usedBy: [String]
        var flags: [String]

        enum CodingKeys: String, CodingKey {
            case reference, store, status, version, versionDate = "version_date", versionUpdated = "version_updated", ageDays = "age_days",
                usedBy = "used_by", flags
        }

        package func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(reference, forKey: .reference)
            try c.encode(store, forKey: .store)
            try c.encode(status, forKey: .status)
            try c.encode(version, forKey: .version)
            try c.encode(versionDate, forKey: .versionDate)
            try c.encode(versionUpdated, forKey: .versionUpdated)
            try c.encode(ageDays, forKey: .ageDays)
            try c.encode(usedBy, forKey: .usedBy)
            try c.encode(flags, forKey: .flags)
        }
    }

    package struct Summary: Codable, Sendable {
        var env: String
        var keys: Int
        var active: Int
        var revoked: Int
        var stale: Int
        var expiring: Int
        var overMaxAge: Int
        var unowned: Int
        var spendUSD: Money

        enum CodingKeys: String, CodingKey {
            case env, keys, active, revoked, stale, expiring, overMaxAge = "over_max_age", unowned, spendUSD = "spend_usd"
        }
    }

    var generatedAt: String
    var keys: [Key]
    var credentials: [Credential]
    /// Unmanaged keys reported by `perimeter scan --report`.
    var findings: [ReportedFinding]
    var summary: [Summary]
    /// Which keys each person has: found on their machines, and issued to them.
    var owners: [Owner]
    /// Every key the providers with an `admin_key` list, and how the latest read of each went.
    var providerKeys: [ProviderKeyView] = []
    var providerSync: [ProviderSyncView] = []

    enum CodingKeys: String, CodingKey {
        case generatedAt = "generated_at", keys, credentials, findings, summary, owners, providerKeys = "provider_keys",
            providerSync = "provider_sync"
    }

    /// What a key's spend is measured over when it has no budget: the calendar month (UTC).
    package struct KeyFacts: Sendable {
        var key: VirtualKey
        var lastClientIP: String?
        var spend: Money
        var spendSince: Date
        var budget: BudgetStatus?
    }

    package static func build(
        keys: [KeyFacts], credentials: [(check: SecretCheck, createdAt: Date?, usedBy: [String])],
        findings: [ReportedFinding], policy: RotationPolicy, now: Date
    ) -> InventoryReport {
        let day = 86400.0
        var views: [Key] = []
        for facts in keys {
            let key = facts.key
            var flags: [String] = []
            let maxAge = policy.maxAge(for: key.env)
            let due = maxAge.map { key.secretIssuedAt.addingTimeInterval(Double($0.components.seconds)) }
            let scheduled = key.rotation?.everySeconds.map { key.secretIssuedAt.addingTimeInterval(Double($0)) }
            let rotationDue = [due, scheduled].compactMap { $0 }.min()
            if key.owner == nil { flags.append("no_owner") }
            var status = "active"
            if key.isRevoked {
                status = "revoked"
            } else if key.isCanary {
                status = "canary"
            } else {
                if let due, due <= now { flags.append("over_max_age") }
                let lastActivity = key.lastUsedAt ?? key.secretIssuedAt
                let stale = now.timeIntervalSince(lastActivity) >= Double(policy.staleAfter.components.seconds)
                if stale { flags.append(key.lastUsedAt == nil ? "never_used" : "stale") }
                if let expiry = key.policy.expiresAt {
                    if expiry <= now {
                        status = "expired"
                    } else if expiry.timeIntervalSince(now) <= Double(policy.expiringWithin.components.seconds) {
                        status = "expiring"
                        flags.append("expiring")
                    }
                }
                if status == "active", stale { status = "stale" }
                if key.retiredSecrets.contains(where: { $0.retiresAt > now }) { flags.append("previous_secret_in_grace") }
            }
            views.append(
                Key(
                    id: key.id, name: key.name, env: key.env, owner: key.owner, generation: key.generation,
                    createdAt: Timestamp.format(key.createdAt), secretIssuedAt: Timestamp.format(key.secretIssuedAt),
                    ageDays: Int(now.timeIntervalSince(key.secretIssuedAt) / day), rotationDue: rotationDue.map(Timestamp.format),
                    lastUsedAt: key.lastUsedAt.map(Timestamp.format), lastClientIP: facts.lastClientIP,
                    spendUSD: facts.budget?.spent ?? facts.spend,
                    spendSince: Timestamp.format(facts.budget?.periodStart ?? facts.spendSince),
                    budget: facts.budget.map(BudgetView.init), status: status, flags: flags))
        }
        let credentialViews = credentials.map { entry in
            var flags: [String] = []
            let age = entry.createdAt.map { Int(now.timeIntervalSince($0) / day) }
            if let createdAt = entry.createdAt,
                now.timeIntervalSince(createdAt) >= Double(policy.credentialMaxAge.components.seconds)
            {
                flags.append("over_max_age")
            }
            if !entry.check.ok { flags.append("unavailable") }
            return Credential(
                reference: entry.check.reference.description, store: entry.check.store, status: entry.check.ok ? "ok" : "error",
                version: entry.check.version, versionDate: entry.createdAt.map(Timestamp.format),
                versionUpdated: entry.check.updatedAt.map(Timestamp.format), ageDays: age,
                usedBy: entry.usedBy, flags: flags)
        }
        let summary = Dictionary(grouping: views, by: \.env).map { env, keys in
            Summary(
                env: env, keys: keys.count, active: keys.filter { $0.status == "active" }.count,
                revoked: keys.filter { $0.status == "revoked" }.count, stale: keys.filter { $0.status == "stale" }.count,
                expiring: keys.filter { $0.status == "expiring" }.count,
                overMaxAge: keys.filter { $0.flags.contains("over_max_age") }.count,
                unowned: keys.filter { $0.flags.contains("no_owner") }.count,
                spendUSD: keys.reduce(Money.zero) { $0 + $1.spendUSD })
        }.sorted { $0.env < $1.env }
        return InventoryReport(
            generatedAt: Timestamp.format(now), keys: views, credentials: credentialViews, findings: findings, summary: summary,
            owners: owners(findings: findings, keys: views))
    }
}
