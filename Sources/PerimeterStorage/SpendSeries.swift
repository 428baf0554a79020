import Foundation
import PerimeterCore

/// The width of a spend series' buckets; every bucket starts at a multiple of it since 1970 (UTC).
public enum SeriesBucket: String, Sendable, Hashable, Codable, CaseIterable {
    case minute, hour, day

    public var milliseconds: Int64 {
        switch self {
        case .minute: 60_000
        case .hour: 3_600_000
        case .day: 86_400_000
        }
    }

    /// How many buckets a series covers when its request names no `since`: an hour, two days, a month.
    public var defaultCount: Int {
        switch self {
        case .minute: 60
        case .hour: 48
        case .day: 30
        }
    }

    /// The start of the bucket holding `time` (milliseconds since 1970), also before 1970.
    public func start(of time: Int64) -> Int64 {
        let remainder = time % milliseconds
        return remainder < 0 ? time - remainder - milliseconds : time - remainder
    }
}

/// Spend per bucket of time and group over `since ..< until`, counted as ``SpendQuery`` counts it
/// (`in_flight` rows left out, `interrupted` ones in at their reserved cost).
public struct SpendSeriesQuery: Sendable, Hashable {
    public var bucket: SeriesBucket
    /// `nil`: one group, "", per bucket.
    public var groupBy: SpendGrouping?
    /// The calls of this key only, when given.
    public var keyID: String?
    public var since: Date
    public var until: Date

    public init(bucket: SeriesBucket, groupBy: SpendGrouping? = nil, keyID: String? = nil, since: Date, until: Date) {
        self.bucket = bucket
        self.groupBy = groupBy
        self.keyID = keyID
        self.since = since
        self.until = until
    }

    /// The buckets the window touches, counting a bucket it only cuts.
    public var bucketCount: Int {
        let first = bucket.start(of: since.milliseconds)
        let end = until.milliseconds
        guard end > first else { return 0 }
        return Int((end - first + bucket.milliseconds - 1) / bucket.milliseconds)
    }

    public func group(of record: CallRecord) -> String {
        groupBy.map { SpendQuery(groupBy: $0).group(of: record) } ?? ""
    }

    public func contains(_ record: CallRecord) -> Bool {
        let time = record.time.milliseconds
        return record.outcome != .inFlight && time >= since.milliseconds && time < until.milliseconds
            && (keyID == nil || record.keyID == keyID)
    }

    /// The series of `records` (a backend without SQL, and the reference the others are tested against).
    public func series(of records: some Sequence<CallRecord>) -> [SpendPoint] {
        var points: [SpendPoint.Position: SpendPoint] = [:]
        for record in records where contains(record) {
            let position = SpendPoint.Position(start: bucket.start(of: record.time.milliseconds), group: group(of: record))
            var point = points[position] ?? SpendPoint(start: Date(milliseconds: position.start), group: position.group)
            point.calls += 1
            point.denied += record.outcome == .denied ? 1 : 0
            point.inputTokens += record.usage.inputTokens
            point.outputTokens += record.usage.outputTokens
            point.cost = point.cost + (record.cost ?? .zero)
            points[position] = point
        }
        return SpendPoint.ordered(Array(points.values))
    }
}

/// One non-empty bucket of one group.
public struct SpendPoint: Sendable, Hashable, Codable {
    public var start: Date
    public var group: String
    public var calls: Int
    /// Calls the gateway refused (outcome `denied`).
    public var denied: Int
    public var inputTokens: Int
    public var outputTokens: Int
    public var cost: Money

    public init(
        start: Date, group: String, calls: Int = 0, denied: Int = 0, inputTokens: Int = 0, outputTokens: Int = 0, cost: Money = .zero
    ) {
        self.start = start
        self.group = group
        self.calls = calls
        self.denied = denied
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cost = cost
    }

    struct Position: Hashable {
        var start: Int64
        var group: String
    }

    enum CodingKeys: String, CodingKey {
        case start, group, calls, denied, inputTokens = "input_tokens", outputTokens = "output_tokens", cost = "cost_usd"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let text = try c.decode(String.self, forKey: .start)
        guard let start = Timestamp.parse(text) else {
            throw DecodingError.dataCorruptedError(forKey: .start, in: c, debugDescription: "not RFC 3339: \(text)")
        }
        self.start = start
        group = try c.decode(String.self, forKey: .group)
        calls = try c.decode(Int.self, forKey: .calls)
        denied = try c.decode(Int.self, forKey: .denied)
        inputTokens = try c.decode(Int.self, forKey: .inputTokens)
        outputTokens = try c.decode(Int.self, forKey: .outputTokens)
        cost = try c.decode(Money.self, forKey: .cost)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Timestamp.format(start), forKey: .start)
        try c.encode(group, forKey: .group)
        try c.encode(calls, forKey: .calls)
        try c.encode(denied, forKey: .denied)
        try c.encode(inputTokens, forKey: .inputTokens)
        try c.encode(outputTokens, forKey: .outputTokens)
        try c.encode(cost, forKey: .cost)
    }

    /// By start, then group: the order every backend answers in.
    public static func ordered(_ points: [SpendPoint]) -> [SpendPoint] {
        points.sorted { ($0.start, $0.group) < ($1.start, $1.group) }
    }
}
