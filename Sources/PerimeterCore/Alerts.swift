import Foundation

/// What an alert is about.
public enum AlertType: String, Codable, Sendable, CaseIterable {
    case budgetThreshold = "budget_threshold"
    case spendSpike = "spend_spike"
    case newSource = "new_source"
    case denialBurst = "denial_burst"
    case invalidKeyBurst = "invalid_key_burst"
    case canaryUsed = "canary_used"
    /// The provider reports more use of the credential the gateway holds than went through the gateway.
    case shadowUsage = "shadow_usage"
    /// A provider key the gateway does not hold was used.
    case unmanagedKeyUsed = "unmanaged_key_used"
    /// A provider's admin API could not be read (a refused admin key): its keys and usage go unchecked.
    case providerSyncFailed = "provider_sync_failed"
}

public enum AlertSeverity: String, Codable, Sendable, CaseIterable, Comparable {
    case info
    case warning
    case critical

    private var rank: Int {
        switch self {
        case .info: 0
        case .warning: 1
        case .critical: 2
        }
    }

    public static func < (lhs: AlertSeverity, rhs: AlertSeverity) -> Bool { lhs.rank < rhs.rank }
}

/// One alert: what happened, how bad, to which key, and a sentence that says why.
public struct Alert: Sendable, Hashable {
    public var id: String
    public var type: AlertType
    public var severity: AlertSeverity
    public var time: Date
    public var keyID: String?
    public var env: String?
    public var message: String
    /// Facts behind the alert (thresholds, counts, addresses), as text.
    public var details: [String: String]
    /// An alert that must be raised once however many instances see its cause (a budget threshold in
    /// a period) names that cause here; a store keeps only the first alert of each.
    public var onceKey: String?

    public init(
        id: String? = nil, type: AlertType, severity: AlertSeverity, time: Date, keyID: String?, env: String?,
        message: String, details: [String: String] = [:], onceKey: String? = nil
    ) {
        self.id = id ?? "alr_" + Base62.random(count: 20)
        self.type = type
        self.severity = severity
        self.time = time
        self.keyID = keyID
        self.env = env
        self.message = message
        self.details = details
        self.onceKey = onceKey
    }
}

/// Budget thresholds: each fraction fires once per budget period, when spend first reaches it.
public struct ThresholdWatch: Sendable {
    private var fired: [String: Set<Double>] = [:]

    public init() {}

    /// The thresholds `spent / limit` has newly reached for `scope` in the period starting at `periodStart`.
    public mutating func crossed(scope: String, periodStart: Date, fraction: Double, thresholds: [Double]) -> [Double] {
        let key = "\(scope)@\(periodStart.timeIntervalSince1970)"
        var done = fired[key, default: []]
        let new = thresholds.filter { fraction >= $0 && !done.contains($0) }.sorted()
        guard !new.isEmpty else { return [] }
        done.formUnion(new)
        fired[key] = done
        return new
    }

    /// Marks thresholds as already fired (after a restart, from spend already recorded), without alerting.
    public mutating func prime(scope: String, periodStart: Date, fraction: Double, thresholds: [Double]) {
        _ = crossed(scope: scope, periodStart: periodStart, fraction: fraction, thresholds: thresholds)
    }
}

/// Spend and request spikes: per key, calls and cost are counted in fixed windows; when a window
/// closes, it is compared with the key's baseline (an exponentially weighted average of earlier
/// windows). Above `factor` times the baseline and above an absolute floor, it alerts.
public struct SpikeWatch: Sendable {
    public struct Rule: Sendable, Hashable {
        public var window: TimeInterval
        public var factor: Double
        public var minimumRequests: Int
        public var minimumCost: Money
        /// Weight of the newest window in the baseline.
        public var smoothing: Double

        public init(
            window: TimeInterval = 300, factor: Double = 3, minimumRequests: Int = 20, minimumCost: Money = Money(usd: 1),
            smoothing: Double = 0.3
        ) {
            self.window = window
            self.factor = factor
            self.minimumRequests = minimumRequests
            self.minimumCost = minimumCost
            self.smoothing = smoothing
        }
    }

    public struct Spike: Sendable, Hashable {
        public var keyID: String
        public var requests: Int
        public var cost: Money
        public var baselineRequests: Double
        public var baselineCost: Double
        public var windowStart: Date
        public var byCost: Bool
    }

    private struct KeyWindow {
        var start: Date
        var requests = 0
        var cost = Money.zero
        var baselineRequests: Double?
        var baselineNanos: Double?
    }

    public let rule: Rule
    private var keys: [String: KeyWindow] = [:]

    public init(rule: Rule) {
        self.rule = rule
    }

    /// Counts a call (or `requests` calls costing `cost` together), after closing any windows that
    /// ended before it.
    public mutating func record(keyID: String, cost: Money, requests: Int = 1, at time: Date) -> [Spike] {
        let spikes = close(keyID: keyID, before: time)
        var window = keys[keyID] ?? KeyWindow(start: alignedStart(time))
        window.requests += requests
        window.cost = window.cost + cost
        keys[keyID] = window
        return spikes
    }

    /// Closes every window that has ended by `now` (called every second).
    public mutating func tick(now: Date) -> [Spike] {
        keys.keys.sorted().flatMap { close(keyID: $0, before: now) }
    }

    /// The start of the window holding `time`: windows are aligned to the epoch, so every instance's
    /// windows are the same.
    public func alignedStart(_ time: Date) -> Date {
        Date(timeIntervalSince1970: (time.timeIntervalSince1970 / rule.window).rounded(.down) * rule.window)
    }

    private mutating func close(keyID: String, before time: Date) -> [Spike] {
        guard var window = keys[keyID], time >= window.start.addingTimeInterval(rule.window) else { return [] }
        var spikes: [Spike] = []
        let requests = Double(window.requests)
        let nanos = Double(window.cost.nanos)
        if let baseRequests = window.baselineRequests, let baseNanos = window.baselineNanos {
            let byRequests = window.requests >= rule.minimumRequests && requests > rule.factor * max(baseRequests, 1)
            let byCost = window.cost >= rule.minimumCost && nanos > rule.factor * max(baseNanos, 1)
            if byRequests || byCost {
                spikes.append(
                    Spike(
                        keyID: keyID, requests: window.requests, cost: window.cost, baselineRequests: baseRequests,
                        baselineCost: baseNanos / 1e9, windowStart: window.start, byCost: byCost && !byRequests))
            }
        }
        let alpha = rule.smoothing
        window.baselineRequests = window.baselineRequests.map { alpha * requests + (1 - alpha) * $0 } ?? requests
        window.baselineNanos = window.baselineNanos.map { alpha * nanos + (1 - alpha) * $0 } ?? nanos
        // Windows with no calls at all pull the baseline down too.
        var next = window.start.addingTimeInterval(rule.window)
        while time >= next.addingTimeInterval(rule.window) {
            window.baselineRequests = (1 - alpha) * (window.baselineRequests ?? 0)
            window.baselineNanos = (1 - alpha) * (window.baselineNanos ?? 0)
            next = next.addingTimeInterval(rule.window)
        }
        window.start = next
        window.requests = 0
        window.cost = .zero
        keys[keyID] = window
        return spikes
    }
}

/// New sources: after a learning period from a key's first use, a call from a network the key has
/// never been used from (an IPv4 /24 or an IPv6 /64) is reported once.
public struct SourceWatch: Sendable {
    private var firstUse: [String: Date] = [:]
    private var seen: [String: Set<String>] = [:]
    public let learning: TimeInterval

    public init(learning: TimeInterval) {
        self.learning = learning
    }

    /// The network of `address`: `a.b.c.0/24` or the first four IPv6 groups and `/64`.
    public static func network(of address: String) -> String? {
        guard let ip = IPAddress(address) else { return nil }
        return ip.network
    }

    /// Records a use; returns the network when it is new for the key and the learning period is over.
    public mutating func record(keyID: String, address: String, at time: Date) -> String? {
        guard let network = Self.network(of: address) else { return nil }
        // The first network a key is used from is its home, never news.
        guard let first = firstUse[keyID] else {
            firstUse[keyID] = time
            seen[keyID] = [network]
            return nil
        }
        let inserted = seen[keyID, default: []].insert(network).inserted
        guard inserted, time.timeIntervalSince(first) >= learning else { return nil }
        return network
    }
}

/// Bursts: `count` events for one subject (a key's denials, an address's unknown keys) within
/// `window` seconds fire once; the subject stays flagged until a window passes without a burst.
public struct BurstWatch: Sendable {
    public let count: Int
    public let window: TimeInterval
    private var events: [String: [Date]] = [:]
    private var flaggedUntil: [String: Date] = [:]

    public init(count: Int, window: TimeInterval) {
        self.count = count
        self.window = window
    }

    /// Records an event; returns how many fell in the window when this one made it a burst.
    public mutating func record(_ subject: String, at time: Date) -> Int? {
        var recent = events[subject, default: []].filter { time.timeIntervalSince($0) < window }
        recent.append(time)
        events[subject] = recent
        if let until = flaggedUntil[subject], time < until {
            flaggedUntil[subject] = time.addingTimeInterval(window)
            return nil
        }
        guard recent.count >= count else { return nil }
        flaggedUntil[subject] = time.addingTimeInterval(window)
        return recent.count
    }

    public func isFlagged(_ subject: String, at time: Date) -> Bool {
        flaggedUntil[subject].map { time < $0 } ?? false
    }

    /// Forgets subjects quiet for longer than the window, so memory stays bounded.
    public mutating func prune(now: Date) {
        events = events.filter { $0.value.last.map { now.timeIntervalSince($0) < window } ?? false }
        flaggedUntil = flaggedUntil.filter { $0.value > now }
    }
}

extension IPAddress {
    /// `a.b.c.0/24` for IPv4, the first 64 bits for IPv6.
    public var network: String {
        if isIPv4 {
            let v4 = UInt32(truncatingIfNeeded: low)
            return "\(v4 >> 24).\((v4 >> 16) & 0xFF).\((v4 >> 8) & 0xFF).0/24"
        }
        let groups = (0..<4).map { String((high >> (48 - 16 * UInt64($0))) & 0xFFFF, radix: 16) }
        return groups.joined(separator: ":") + "::/64"
    }
}
