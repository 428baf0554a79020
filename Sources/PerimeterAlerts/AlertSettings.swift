import Foundation
import PerimeterCore
import PerimeterSecrets

/// The `alerts:` section: thresholds, anomaly rules and where alerts go.
public struct AlertSettings: Sendable {
    /// `thresholds`: fractions of every budget that alert once per period. Default 50 %, 80 %, 100 %.
    public var thresholds: [Double] = [0.5, 0.8, 1.0]
    /// `spike: { window, factor, min_requests, min_usd }`.
    public var spike = SpikeWatch.Rule()
    /// `new_source: { learning }`: how long a key learns its networks before new ones alert. Default 24h; `off` disables.
    public var newSourceLearning: TimeInterval? = 86400
    /// `denial_burst: { count, window }`: denied calls of one key. Default 20 in 1m.
    public var denialBurst = BurstRule(count: 20, window: 60)
    /// `invalid_key_burst: { count, window }`: unknown keys from one address, which is then slowed down. Default 20 in 1m.
    public var invalidKeyBurst = BurstRule(count: 20, window: 60)
    /// `channels`.
    public var channels: [AlertChannel] = []

    public init() {}
}

public struct BurstRule: Sendable, Hashable {
    public var count: Int
    public var window: TimeInterval

    public init(count: Int, window: TimeInterval) {
        self.count = count
        self.window = window
    }
}

/// Where alerts are delivered.
public struct AlertChannel: Sendable {
    public enum Kind: String, Sendable {
        /// JSON, signed with HMAC-SHA256 in `x-perimeter-signature`.
        case webhook
        /// Slack's incoming-webhook payload.
        case slack
    }

    /// A URL written in the config, or a secret reference to one (Slack webhook URLs are secrets).
    public enum Target: Sendable, Hashable {
        case url(String)
        case reference(SecretReference)
    }

    public var name: String
    public var kind: Kind
    public var target: Target
    /// The HMAC key of a webhook channel.
    public var secret: SecretReference?
    public var minimumSeverity: AlertSeverity
    /// Only alerts of these environments (all when nil).
    public var environments: [String]?

    public init(
        name: String, kind: Kind, target: Target, secret: SecretReference?, minimumSeverity: AlertSeverity = .info,
        environments: [String]? = nil
    ) {
        self.name = name
        self.kind = kind
        self.target = target
        self.secret = secret
        self.minimumSeverity = minimumSeverity
        self.environments = environments
    }

    /// Whether `alert` goes to this channel.
    public func accepts(_ alert: Alert) -> Bool {
        guard alert.severity >= minimumSeverity else { return false }
        guard let environments else { return true }
        return alert.env.map(environments.contains) ?? true
    }
}
