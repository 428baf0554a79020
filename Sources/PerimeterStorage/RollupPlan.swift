/// How a window of the call log is read when the database keeps spend rolled up by hour and by day:
/// the whole days it covers from the daily rollup, the whole hours left at its edges from the hourly
/// one, and only the parts of hours it cuts from the log. The answer is the same as reading the log
/// alone; the rows read are a few days' and hours' instead of every call's.
package struct RollupPlan: Sendable, Equatable {
    package enum Source: Sendable, Hashable {
        case log, hourly, daily

        /// The width of one rollup row, in milliseconds; the log has none.
        package var width: Int64? {
            switch self {
            case .log: nil
            case .hourly: 3_600_000
            case .daily: 86_400_000
            }
        }
    }

    /// One range of the window, `from ..< before` (milliseconds since 1970, nil unbounded), and where it is read.
    package struct Part: Sendable, Equatable {
        package var source: Source
        package var from: Int64?
        package var before: Int64?

        package init(_ source: Source, _ from: Int64?, _ before: Int64?) {
            self.source = source
            self.from = from
            self.before = before
        }
    }

    package var parts: [Part]

    package init(parts: [Part]) {
        self.parts = parts
    }

    /// The plan for calls with `since <= time < until`, using the rollups in `rollups` (finest first):
    /// `[]` reads the log alone, `[.hourly]` whole hours, `[.hourly, .daily]` whole days too.
    package init(since: Int64?, until: Int64?, rollups: [Source]) {
        parts = Self.split(from: since, before: until, rollups: rollups[...])
    }

    private static func split(from: Int64?, before: Int64?, rollups: ArraySlice<Source>) -> [Part] {
        guard let source = rollups.last, let width = source.width else { return [Part(.log, from, before)] }
        let finer = rollups.dropLast()
        let first = from.map { ceiling($0, width) }
        let last = before.map { floor($0, width) }
        if let first, let last, first >= last { return split(from: from, before: before, rollups: finer) }
        var parts: [Part] = []
        if let from, let first, from < first { parts += split(from: from, before: first, rollups: finer) }
        parts.append(Part(source, first, last))
        if let before, let last, last < before { parts += split(from: last, before: before, rollups: finer) }
        return parts
    }

    /// The start of the `width`-wide span holding `time`, also before 1970.
    package static func floor(_ time: Int64, _ width: Int64) -> Int64 {
        let remainder = time % width
        return remainder < 0 ? time - remainder - width : time - remainder
    }

    static func ceiling(_ time: Int64, _ width: Int64) -> Int64 {
        let start = floor(time, width)
        return start == time ? time : start + width
    }
}

extension SeriesBucket {
    /// The rollups a series of these buckets can read: none for minutes, hours for hours, and days too for days.
    package var rollups: [RollupPlan.Source] {
        switch self {
        case .minute: []
        case .hour: [.hourly]
        case .day: [.hourly, .daily]
        }
    }
}
