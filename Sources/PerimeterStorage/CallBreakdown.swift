import Foundation
import PerimeterCore

/// What a breakdown counts calls by.
public enum BreakdownDimension: String, Sendable, Hashable, Codable, CaseIterable {
    case outcome
    case errorCode = "error_code"
    case clientIP = "client_ip"
    case model

    /// The call log's column.
    package var column: String { rawValue }

    public func value(of record: CallRecord) -> String {
        switch self {
        case .outcome: record.outcome.rawValue
        case .errorCode: record.errorCode ?? ""
        case .clientIP: record.clientIP ?? ""
        case .model: record.model ?? ""
        }
    }
}

/// Calls of a key or an environment over a window, counted by one column (`in_flight` rows left out,
/// as spend leaves them out).
public struct BreakdownQuery: Sendable, Hashable {
    public var by: BreakdownDimension
    public var keyID: String?
    public var env: String?
    public var since: Date?
    public var until: Date?
    public var limit: Int

    public init(
        by: BreakdownDimension, keyID: String? = nil, env: String? = nil, since: Date? = nil, until: Date? = nil, limit: Int = 100
    ) {
        self.by = by
        self.keyID = keyID
        self.env = env
        self.since = since
        self.until = until
        self.limit = limit
    }

    public func contains(_ record: CallRecord) -> Bool {
        CallQuery(keyID: keyID, env: env, since: since, until: until).matches(record) && record.outcome != .inFlight
    }

    /// The breakdown of `records` (a backend without SQL, and the reference the others are tested against).
    public func breakdown(of records: some Sequence<CallRecord>) -> [BreakdownRow] {
        var rows: [String: BreakdownRow] = [:]
        for record in records where contains(record) {
            let value = by.value(of: record)
            var row = rows[value] ?? BreakdownRow(value: value)
            row.calls += 1
            row.cost = row.cost + (record.cost ?? .zero)
            rows[value] = row
        }
        return Array(BreakdownRow.ranked(Array(rows.values)).prefix(limit))
    }
}

/// Calls with one value of the breakdown's column ("" for none).
public struct BreakdownRow: Sendable, Hashable, Codable {
    public var value: String
    public var calls: Int
    public var cost: Money

    public init(value: String, calls: Int = 0, cost: Money = .zero) {
        self.value = value
        self.calls = calls
        self.cost = cost
    }

    enum CodingKeys: String, CodingKey { case value, calls, cost = "cost_usd" }

    /// Most calls first, then cost, then value.
    public static func ranked(_ rows: [BreakdownRow]) -> [BreakdownRow] {
        rows.sorted { ($0.calls, $0.cost, $1.value) > ($1.calls, $1.cost, $0.value) }
    }
}
