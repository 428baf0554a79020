import Foundation

/// A per-minute allowance as a token bucket: it holds up to `capacity`, refills `capacity` per minute,
/// and a take succeeds while it holds at least one. Requests take one each before the call; tokens
/// are charged after the call from metered usage and may drive the level below zero, which blocks the
/// key until the bucket refills.
public struct TokenBucket: Sendable, Hashable {
    public let capacity: Double
    public private(set) var level: Double
    private var updatedAt: Date

    public init(perMinute capacity: Int, now: Date) {
        self.capacity = Double(capacity)
        level = Double(capacity)
        updatedAt = now
    }

    private mutating func refill(_ now: Date) {
        let elapsed = max(0, now.timeIntervalSince(updatedAt))
        level = min(capacity, level + elapsed * capacity / 60)
        updatedAt = max(updatedAt, now)
    }

    /// Takes `amount` if at least one unit is available; otherwise takes nothing.
    public mutating func take(_ amount: Double = 1, now: Date) -> Bool {
        refill(now)
        guard level >= 1 else { return false }
        level -= amount
        return true
    }

    /// Whether a take would succeed now, without taking.
    public mutating func isAvailable(now: Date) -> Bool {
        refill(now)
        return level >= 1
    }

    /// Removes `amount` unconditionally (usage known after the call).
    public mutating func charge(_ amount: Double, now: Date) {
        refill(now)
        level -= amount
    }

    /// The bucket with a new capacity. A larger one adds no units, only a faster refill; a smaller one
    /// keeps at most its new capacity. So instances whose capacities add up to a limit never hold more
    /// than it between them, however the capacities move.
    public func resized(to newCapacity: Int, now: Date) -> TokenBucket {
        var current = self
        current.refill(now)
        var bucket = TokenBucket(perMinute: newCapacity, now: max(now, updatedAt))
        bucket.level = min(bucket.capacity, current.level)
        return bucket
    }

    /// Seconds until one unit is available.
    public func secondsUntilAvailable(now: Date) -> Double {
        let current = min(capacity, level + max(0, now.timeIntervalSince(updatedAt)) * capacity / 60)
        return current >= 1 ? 0 : (1 - current) * 60 / capacity
    }

    /// Seconds until the bucket is full again.
    public func secondsUntilFull(now: Date) -> Double {
        let current = min(capacity, level + max(0, now.timeIntervalSince(updatedAt)) * capacity / 60)
        return (capacity - current) * 60 / capacity
    }

    /// Whole units available now, never negative.
    public func remaining(now: Date) -> Int {
        let current = min(capacity, level + max(0, now.timeIntervalSince(updatedAt)) * capacity / 60)
        return max(0, Int(current.rounded(.down)))
    }
}

/// Durations as OpenAI writes them in `x-ratelimit-reset-*`: `850ms`, `12s`, `6m0s`.
public enum RateLimitDuration {
    public static func format(seconds: Double) -> String {
        if seconds < 1 { return "\(Int((seconds * 1000).rounded(.up)))ms" }
        let whole = Int(seconds.rounded(.up))
        return whole < 60 ? "\(whole)s" : "\(whole / 60)m\(whole % 60)s"
    }
}
