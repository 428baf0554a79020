import Foundation
import PerimeterCore

/// The call log: finished calls, appended in batches, read back by filters and as spend totals.
public protocol CallLog: Sendable {
    /// Appends in one transaction. Appending a record whose id is already stored changes nothing, so
    /// a writer may retry a batch after an error, unless the stored one is `in_flight`: a call's final
    /// record replaces its placeholder. It also replaces an `interrupted` placeholder: another instance
    /// closed it, taking this one for dead while the database was away, and the final record is exact.
    func append(_ records: [CallRecord]) async throws
    /// Turns every `in_flight` row into `interrupted` (usage source `reserved`, its reserved cost kept):
    /// run at start, before budgets are recovered, for the calls a crash left under way. Returns how many.
    func closeInFlight() async throws -> Int
    /// Matching calls, newest first.
    func calls(matching query: CallQuery) async throws -> [CallRecord]
    /// Spend totals per group, largest cost first.
    func spend(_ query: SpendQuery) async throws -> [SpendRow]
    /// Spend per bucket of time and group, by start then group; empty buckets left out.
    func spendSeries(_ query: SpendSeriesQuery) async throws -> [SpendPoint]
    /// Calls counted by one column's values, most calls first, at most `query.limit` rows.
    func callBreakdown(_ query: BreakdownQuery) async throws -> [BreakdownRow]
    /// The client address of each key's latest call, by key id.
    func lastClientAddresses() async throws -> [String: String]
    /// Every (key, client address) pair seen, with its first call's time: what the new-source alert learns from.
    func keySources() async throws -> [(keyID: String, address: String, firstSeen: Date)]
}

extension CallRecord {
    /// Whether `record`, appended with this one's id, replaces it (see ``CallLog/append(_:)``).
    public func isReplaced(by record: CallRecord) -> Bool {
        outcome == .inFlight || (outcome == .interrupted && record.outcome != .inFlight)
    }
}

public struct CallQuery: Sendable, Hashable {
    public var keyID: String?
    public var env: String?
    public var model: String?
    public var outcome: Outcome?
    public var since: Date?
    /// Calls before this time only.
    public var until: Date?
    /// Calls strictly after this one in the log's order (newest first), for the next page.
    public var after: CallCursor?
    public var limit: Int

    public init(
        keyID: String? = nil, env: String? = nil, model: String? = nil, outcome: Outcome? = nil, since: Date? = nil,
        until: Date? = nil, after: CallCursor? = nil, limit: Int = 100
    ) {
        self.keyID = keyID
        self.env = env
        self.model = model
        self.outcome = outcome
        self.since = since
        self.until = until
        self.after = after
        self.limit = limit
    }

    public func matches(_ record: CallRecord) -> Bool {
        let time = record.time.milliseconds
        return (keyID == nil || record.keyID == keyID) && (env == nil || record.env == env)
            && (model == nil || record.model == model) && (outcome == nil || record.outcome == outcome)
            && (since.map { time >= $0.milliseconds } ?? true) && (until.map { time < $0.milliseconds } ?? true)
            && (after.map { CallCursor(record) < $0 } ?? true)
    }
}

public enum SpendGrouping: String, Sendable, Hashable, Codable, CaseIterable {
    case key, env, model, owner, provider

    /// The call log's column a database backend groups by.
    package var column: String {
        switch self {
        case .key: "key_id"
        case .env: "env"
        case .model: "model"
        case .owner: "owner"
        case .provider: "provider"
        }
    }
}

public struct SpendQuery: Sendable, Hashable {
    public var groupBy: SpendGrouping
    public var since: Date?
    /// Calls before this time only, when given.
    public var until: Date?

    public init(groupBy: SpendGrouping = .key, since: Date? = nil, until: Date? = nil) {
        self.groupBy = groupBy
        self.since = since
        self.until = until
    }

    /// The group a call belongs to; calls without one (an unknown key, no model) are grouped under "".
    public func group(of record: CallRecord) -> String {
        switch groupBy {
        case .key: record.keyID ?? ""
        case .env: record.env ?? ""
        case .model: record.model ?? ""
        case .owner: record.owner ?? ""
        case .provider: record.provider ?? ""
        }
    }
}

/// Spend of one group over the query's window.
public struct SpendRow: Sendable, Hashable, Codable {
    public var group: String
    public var calls: Int
    public var inputTokens: Int
    public var cachedInputTokens: Int
    public var outputTokens: Int
    public var cost: Money
    /// Calls whose model had no known price, counted at $0 in `cost`.
    public var unpricedCalls: Int

    public init(
        group: String, calls: Int = 0, inputTokens: Int = 0, cachedInputTokens: Int = 0, outputTokens: Int = 0,
        cost: Money = .zero, unpricedCalls: Int = 0
    ) {
        self.group = group
        self.calls = calls
        self.inputTokens = inputTokens
        self.cachedInputTokens = cachedInputTokens
        self.outputTokens = outputTokens
        self.cost = cost
        self.unpricedCalls = unpricedCalls
    }

    enum CodingKeys: String, CodingKey {
        case group, calls, inputTokens = "input_tokens", cachedInputTokens = "cached_input_tokens",
            outputTokens = "output_tokens", cost = "cost_usd", unpricedCalls = "unpriced_calls"
    }

    /// Orders rows by cost, then calls, then name, so every backend lists them alike.
    public static func ranked(_ rows: [SpendRow]) -> [SpendRow] {
        rows.sorted {
            ($0.cost, $0.calls, $1.group) > ($1.cost, $1.calls, $0.group)
        }
    }
}
