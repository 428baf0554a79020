import Foundation
import PerimeterCore
import PerimeterStorage

/// A page of the call log: `{"data": [...], "next_cursor": "..."}`, the cursor present when more
/// calls may follow.
public struct CallPage: Codable, Sendable {
    public var data: [CallRecord]
    public var nextCursor: String?

    public init(data: [CallRecord], nextCursor: String?) {
        self.data = data
        self.nextCursor = nextCursor
    }

    enum CodingKeys: String, CodingKey { case data, nextCursor = "next_cursor" }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(data, forKey: .data)
        try c.encodeIfPresent(nextCursor, forKey: .nextCursor)
    }
}

/// `GET /spend/series`: the window as asked (or defaulted) and its non-empty buckets.
public struct SpendSeriesReport: Codable, Sendable {
    public var bucket: SeriesBucket
    /// A ``SpendGrouping`` or `none`.
    public var groupBy: String
    /// The key whose calls the series counts, when it is one key's.
    public var keyID: String?
    public var since: String
    public var until: String
    public var data: [SpendPoint]

    public init(_ query: SpendSeriesQuery, points: [SpendPoint]) {
        bucket = query.bucket
        groupBy = query.groupBy?.rawValue ?? "none"
        keyID = query.keyID
        since = Timestamp.format(query.since)
        until = Timestamp.format(query.until)
        data = points
    }

    enum CodingKeys: String, CodingKey { case bucket, groupBy = "group_by", keyID = "key_id", since, until, data }
}

/// `GET /calls/breakdown`: calls counted by one column.
public struct BreakdownReport: Codable, Sendable {
    public var by: BreakdownDimension
    public var data: [BreakdownRow]

    public init(by: BreakdownDimension, data: [BreakdownRow]) {
        self.by = by
        self.data = data
    }
}
