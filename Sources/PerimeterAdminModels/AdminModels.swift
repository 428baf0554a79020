import Foundation
import PerimeterCore
import PerimeterStorage

/// A virtual key as the admin API shows it. `key` (the plaintext) is present only in the response
/// that created it.
public struct KeyView: Codable, Sendable, Hashable {
    public var id: String
    public var name: String
    public var env: String
    public var owner: String?
    public var prefix: String
    public var status: String
    public var createdAt: String
    public var revokedAt: String?
    public var lastUsedAt: String?
    public var limits: KeyPolicy
    /// The key's budget in its current period, when it has one.
    public var budget: BudgetView?
    /// The key's environment's shared budget, when it has one.
    public var environmentBudget: BudgetView?
    /// Which secret is current: 1 at creation, one more per rotation.
    public var generation: Int
    public var canary: Bool
    public var rotatedAt: String?
    public var rotation: RotationView?
    public var key: String?

    enum CodingKeys: String, CodingKey {
        case id, name, env, owner, prefix, status, createdAt = "created_at", revokedAt = "revoked_at",
            lastUsedAt = "last_used_at", limits, budget, environmentBudget = "environment_budget", generation,
            rotatedAt = "rotated_at", rotation, canary, key
    }

    package init(
        _ key: VirtualKey, plaintext: Secret? = nil, budget: BudgetStatus? = nil, environmentBudget: BudgetStatus? = nil, now: Date = Date()
    ) {
        id = key.id
        name = key.name
        env = key.env
        owner = key.owner
        prefix = key.prefix
        status =
            key.isRevoked
            ? "revoked" : key.isCanary ? "canary" : key.policy.expiresAt.map { $0 <= now } == true ? "expired" : "active"
        limits = key.policy
        self.budget = budget.map(BudgetView.init)
        self.environmentBudget = environmentBudget.map(BudgetView.init)
        createdAt = Timestamp.format(key.createdAt)
        revokedAt = key.revokedAt.map(Timestamp.format)
        lastUsedAt = key.lastUsedAt.map(Timestamp.format)
        generation = key.generation
        canary = key.isCanary
        rotatedAt = key.rotatedAt.map(Timestamp.format)
        rotation = key.rotation.map(RotationView.init)
        self.key = plaintext?.revealed
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(env, forKey: .env)
        try c.encode(owner, forKey: .owner)
        try c.encode(prefix, forKey: .prefix)
        try c.encode(status, forKey: .status)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(revokedAt, forKey: .revokedAt)
        try c.encode(lastUsedAt, forKey: .lastUsedAt)
        try c.encode(limits, forKey: .limits)
        try c.encode(budget, forKey: .budget)
        try c.encodeIfPresent(environmentBudget, forKey: .environmentBudget)
        try c.encode(generation, forKey: .generation)
        try c.encode(canary, forKey: .canary)
        try c.encode(rotatedAt, forKey: .rotatedAt)
        try c.encode(rotation, forKey: .rotation)
        try c.encodeIfPresent(key, forKey: .key)
    }
}

/// A budget's state in its current period.
public struct BudgetView: Codable, Sendable, Hashable {
    public var limit: Money
    public var period: BudgetPeriod
    public var spent: Money
    public var reserved: Money
    public var remaining: Money
    public var periodStart: String
    public var resetsAt: String?

    enum CodingKeys: String, CodingKey {
        case limit = "limit_usd", period, spent = "spent_usd", reserved = "reserved_usd", remaining = "remaining_usd",
            periodStart = "period_start", resetsAt = "resets_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(limit, forKey: .limit)
        try c.encode(period, forKey: .period)
        try c.encode(spent, forKey: .spent)
        try c.encode(reserved, forKey: .reserved)
        try c.encode(remaining, forKey: .remaining)
        try c.encode(periodStart, forKey: .periodStart)
        try c.encode(resetsAt, forKey: .resetsAt)
    }

    package init(_ status: BudgetStatus) {
        limit = status.budget.limit
        period = status.budget.period
        spent = status.spent
        reserved = status.reserved
        remaining = status.remaining
        periodStart = Timestamp.format(status.periodStart)
        resetsAt = status.resetsAt.map(Timestamp.format)
    }
}

public struct CreateKeyRequest: Codable, Sendable {
    public var name: String
    public var env: String
    public var owner: String?
    public var limits: KeyPolicy?
    public var rotation: RotationView?
    /// A decoy key: never forwarded; any use raises a critical alert.
    public var canary: Bool?

    public init(name: String, env: String, owner: String?, limits: KeyPolicy? = nil) {
        self.name = name
        self.env = env
        self.owner = owner
        self.limits = limits
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case name, env, owner, limits, rotation, canary }

    public init(from decoder: any Decoder) throws {
        try decoder.refuseUnknownKeys(of: CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        env = try c.decode(String.self, forKey: .env)
        owner = try c.decodeIfPresent(String.self, forKey: .owner)
        limits = try c.decodeIfPresent(KeyPolicy.self, forKey: .limits)
        rotation = try c.decodeIfPresent(RotationView.self, forKey: .rotation)
        canary = try c.decodeIfPresent(Bool.self, forKey: .canary)
    }
}

/// `{"data": [...]}`, the shape of every admin list.
public struct ListEnvelope<Item: Codable & Sendable>: Codable, Sendable {
    public var data: [Item]

    public init(data: [Item]) {
        self.data = data
    }
}

public struct SpendReport: Codable, Sendable {
    public var groupBy: SpendGrouping
    public var since: String?
    public var until: String?
    public var data: [SpendRow]
    public var total: SpendRow

    enum CodingKeys: String, CodingKey { case groupBy = "group_by", since, until, data, total }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(groupBy, forKey: .groupBy)
        try c.encode(since, forKey: .since)
        try c.encode(until, forKey: .until)
        try c.encode(data, forKey: .data)
        try c.encode(total, forKey: .total)
    }

    public init(groupBy: SpendGrouping, since: Date?, until: Date? = nil, rows: [SpendRow]) {
        self.groupBy = groupBy
        self.since = since.map(Timestamp.format)
        self.until = until.map(Timestamp.format)
        data = rows
        total = rows.reduce(into: SpendRow(group: "total")) { total, row in
            total.calls += row.calls
            total.inputTokens += row.inputTokens
            total.cachedInputTokens += row.cachedInputTokens
            total.outputTokens += row.outputTokens
            total.cost = total.cost + row.cost
            total.unpricedCalls += row.unpricedCalls
        }
    }
}

/// A key's rotation schedule as the admin API reads and writes it: `{"every": "30d", "grace": "24h",
/// "deliver_to": "file:/etc/app/perimeter-key"}`.
public struct RotationView: Codable, Sendable, Hashable {
    public var every: String?
    public var grace: String?
    public var deliverTo: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case every, grace
        case deliverTo = "deliver_to"
    }

    public init(from decoder: any Decoder) throws {
        try decoder.refuseUnknownKeys(of: CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        every = try c.decodeIfPresent(String.self, forKey: .every)
        grace = try c.decodeIfPresent(String.self, forKey: .grace)
        deliverTo = try c.decodeIfPresent(String.self, forKey: .deliverTo)
    }

    public init(every: String?, grace: String?, deliverTo: String?) {
        self.every = every
        self.grace = grace
        self.deliverTo = deliverTo
    }

    package init(_ schedule: RotationSchedule) {
        every = schedule.everySeconds.map { TimeWindow.describe(.seconds($0)) }
        grace = TimeWindow.describe(.seconds(schedule.graceSeconds))
        deliverTo = schedule.deliverTo
    }
}
