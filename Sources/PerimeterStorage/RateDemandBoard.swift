import Foundation
import PerimeterCore
import Synchronization

/// Where instances sharing keys' per-minute limits tell each other what each key asked of them, so
/// each sizes its share of the limits by demand (``RateShare``).
public protocol RateDemandBoard: Sendable {
    /// Replaces `instance`'s report with `demand` (keys it has none for drop out) and returns, per
    /// key, the sum of the other instances' reports made since `freshSince`.
    func exchange(_ demand: [String: RateDemand], instance: String, at now: Date, freshSince: Date) async throws -> [String: RateDemand]
}

/// The board in memory, for tests of several instances in one process.
public final class MemoryRateDemandBoard: RateDemandBoard, Sendable {
    private let reports = Mutex<[String: (demand: [String: RateDemand], at: Date)]>([:])

    public init() {}

    public func exchange(_ demand: [String: RateDemand], instance: String, at now: Date, freshSince: Date) async throws -> [String:
        RateDemand]
    {
        reports.withLock { reports in
            reports[instance] = (demand, now)
            var sums: [String: RateDemand] = [:]
            for (other, report) in reports where other != instance && report.at >= freshSince {
                for (key, amount) in report.demand { sums[key, default: RateDemand()] = sums[key, default: RateDemand()] + amount }
            }
            return sums
        }
    }
}
