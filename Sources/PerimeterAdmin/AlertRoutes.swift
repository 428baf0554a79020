import Foundation
import Hummingbird
import PerimeterAdminModels
import PerimeterAlerts
import PerimeterCore
import PerimeterProxy
import PerimeterStorage

/// `GET /admin/v1/alerts` (history with delivery state) and `GET /admin/v1/alerts/rules`.
package struct AlertRoutes: Sendable {
    let store: any AlertStore
    let settings: AlertSettings

    package init(store: any AlertStore, settings: AlertSettings) {
        self.store = store
        self.settings = settings
    }

    struct AlertView: Codable, Sendable {
        struct Delivery: Codable, Sendable {
            var channel: String
            var status: String
            var attempts: Int
            var deliveredAt: String?
            var lastError: String?

            enum CodingKeys: String, CodingKey {
                case channel, status, attempts
                case deliveredAt = "delivered_at"
                case lastError = "last_error"
            }
        }

        var id: String
        var type: String
        var severity: String
        var time: String
        var keyID: String?
        var env: String?
        var message: String
        var details: [String: String]
        var deliveries: [Delivery]

        enum CodingKeys: String, CodingKey {
            case id, type, severity, time, env, message, details, deliveries
            case keyID = "key_id"
        }
    }

    package func register(on authenticated: RouterGroup<GatewayContext>) {
        authenticated.get("alerts") { request, _ in
            let query = request.uri.queryParameters
            let since = try query.get("since").map(AdminRoutes.since)
            let limit = try AdminRoutes.limit(query.get("limit"), default: 500, maximum: 10_000)
            let alerts = try await store.alerts(since: since, limit: limit)
            return try AdminRoutes.json(
                ListEnvelope(
                    data: alerts.map { stored in
                        let alert = stored.alert
                        return AlertView(
                            id: alert.id, type: alert.type.rawValue, severity: alert.severity.rawValue, time: Timestamp.format(alert.time),
                            keyID: alert.keyID, env: alert.env, message: alert.message, details: alert.details,
                            deliveries: stored.deliveries.map {
                                AlertView.Delivery(
                                    channel: $0.channel, status: $0.deliveredAt == nil ? "pending" : "delivered", attempts: $0.attempts,
                                    deliveredAt: $0.deliveredAt.map(Timestamp.format), lastError: $0.lastError)
                            })
                    }))
        }
        authenticated.get("alerts/rules") { _, _ in
            try AdminRoutes.json(Self.rules(settings))
        }
    }

    struct Rule: Codable, Sendable {
        var type: String
        var severity: String
        var rule: String
    }

    struct Rules: Codable, Sendable {
        struct Channel: Codable, Sendable {
            var name: String
            var kind: String
            var minSeverity: String
            var envs: [String]?
            var signed: Bool

            enum CodingKeys: String, CodingKey {
                case name, kind, envs, signed
                case minSeverity = "min_severity"
            }
        }

        var rules: [Rule]
        var channels: [Channel]
    }

    static func rules(_ settings: AlertSettings) -> Rules {
        let percents = settings.thresholds.map { "\(Int(($0 * 100).rounded())) %" }.joined(separator: ", ")
        var rules = [
            Rule(
                type: AlertType.budgetThreshold.rawValue, severity: "warning (critical at 100 %)",
                rule: "every key and environment budget crossing \(percents), once per period"),
            Rule(
                type: AlertType.spendSpike.rawValue, severity: "warning",
                rule:
                    "a key's calls or spend in a \(Int(settings.spike.window)) s window above \(settings.spike.factor)× its moving baseline, and at least \(settings.spike.minimumRequests) calls or \(settings.spike.minimumCost)"
            ),
            Rule(
                type: AlertType.denialBurst.rawValue, severity: "warning",
                rule: "\(settings.denialBurst.count) denied calls of one key within \(Int(settings.denialBurst.window)) s"),
            Rule(
                type: AlertType.invalidKeyBurst.rawValue, severity: "warning",
                rule:
                    "\(settings.invalidKeyBurst.count) unknown keys from one address within \(Int(settings.invalidKeyBurst.window)) s; that address is then answered slowly"
            ),
            Rule(type: AlertType.canaryUsed.rawValue, severity: "critical", rule: "any use of a canary key"),
            Rule(
                type: AlertType.shadowUsage.rawValue, severity: "critical",
                rule:
                    "a provider with admin_key reports more tokens in an hour for the credential the gateway holds than the call log has (beyond 1,000 tokens or 2 %), checked at each provider sync"
            ),
            Rule(
                type: AlertType.unmanagedKeyUsed.rawValue, severity: "warning",
                rule: "a provider key the gateway does not hold was used, once per key and day, checked at each provider sync"),
            Rule(
                type: AlertType.providerSyncFailed.rawValue, severity: "warning",
                rule: "a provider's admin API could not be read (a refused admin_key, no answer), once when it starts failing"),
        ]
        if let learning = settings.newSourceLearning {
            rules.insert(
                Rule(
                    type: AlertType.newSource.rawValue, severity: "warning",
                    rule: "a key used from a network (IPv4 /24, IPv6 /64) it never used, after \(Int(learning)) s of learning"),
                at: 2)
        }
        return Rules(
            rules: rules,
            channels: settings.channels.map {
                Rules.Channel(
                    name: $0.name, kind: $0.kind.rawValue, minSeverity: $0.minimumSeverity.rawValue, envs: $0.environments,
                    signed: $0.secret != nil)
            })
    }
}
