import Foundation

/// What a key asked of one instance in the last minute: requests (admitted or refused) and tokens
/// charged. Instances sharing a key's per-minute limits split them by it.
public struct RateDemand: Sendable, Hashable, Codable {
    public var requests: Int
    public var tokens: Int

    public init(requests: Int = 0, tokens: Int = 0) {
        self.requests = requests
        self.tokens = tokens
    }

    public var isZero: Bool { requests == 0 && tokens == 0 }

    public static func + (lhs: RateDemand, rhs: RateDemand) -> RateDemand {
        RateDemand(requests: lhs.requests.addingSaturated(rhs.requests), tokens: lhs.tokens.addingSaturated(rhs.tokens))
    }
}

/// A key's demand over the last minute, in six ten-second slots: old slots fall out as time passes.
public struct DemandWindow: Sendable, Hashable {
    static let slotSeconds = 10.0
    static let slots = 6
    private var counts = [RateDemand](repeating: RateDemand(), count: slots)
    /// The slot number (seconds since 1970 / 10) each entry of `counts` holds.
    private var numbers = [Int64](repeating: -1, count: slots)

    public init() {}

    public mutating func add(requests: Int = 0, tokens: Int = 0, at now: Date) {
        let number = Self.slotNumber(now)
        let index = Int(number % Int64(Self.slots))
        if numbers[index] != number {
            numbers[index] = number
            counts[index] = RateDemand()
        }
        counts[index] = counts[index] + RateDemand(requests: max(0, requests), tokens: max(0, tokens))
    }

    /// The demand of the last minute (the current slot and the five before it).
    public func total(at now: Date) -> RateDemand {
        let number = Self.slotNumber(now)
        var sum = RateDemand()
        for index in 0..<Self.slots where numbers[index] > number - Int64(Self.slots) && numbers[index] <= number {
            sum = sum + counts[index]
        }
        return sum
    }

    private static func slotNumber(_ date: Date) -> Int64 {
        let seconds = date.timeIntervalSince1970
        guard seconds.isFinite, seconds > 0 else { return 0 }
        return Int64(min(seconds, 1e15) / slotSeconds)
    }
}

/// How instances sharing a key's per-minute limit split it: each keeps a small floor (a tenth of the
/// limit shared among them, at least one), so an instance the key has not used yet can still serve
/// it at once; the rest goes to each in proportion to the demand it saw in the last minute. With no
/// demand anywhere the split is even. Shares are whole units, rounded down, so instances that see
/// the same demand never hold more than the limit together.
public enum RateShare {
    public static func share(of limit: Int, instances: Int, here: Int, elsewhere: Int) -> Int {
        let count = max(1, instances)
        guard count > 1, limit > 0 else { return max(1, limit) }
        let here = max(0, here)
        let elsewhere = max(0, elsewhere)
        let total = here.addingSaturated(elsewhere)
        guard total > 0 else { return max(1, limit / count) }
        let floor = max(1, limit / (10 * count))
        let spread = max(0, limit - floor * count)
        let proportional = Int((Double(spread) * Double(here) / Double(total)).rounded(.down))
        return max(1, floor + proportional)
    }
}

extension Int {
    fileprivate func addingSaturated(_ other: Int) -> Int {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }
}
