import Foundation
import Hummingbird
import PerimeterCore
import PerimeterStorage
import Prometheus

/// The gateway's Prometheus metrics, served at `GET /metrics` in the text exposition format.
///
/// Labels stay bounded: the model label is the requested model only when a provider serves it
/// (anything else is `other`), and a key label is added only with `metrics.per_key_labels: true`.
package final class GatewayMetrics: Sendable {
    package let registry: PrometheusCollectorRegistry
    private let perKeyLabels: Bool
    private let latencyBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
    ]

    package init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), perKeyLabels: Bool = false) {
        self.registry = registry
        self.perKeyLabels = perKeyLabels
    }

    /// Counts one finished call. `upstream` is the time to the provider's response head, `overhead`
    /// the time the gateway spent before sending the call upstream.
    package func record(_ record: CallRecord, upstream: Duration?, overhead: Duration?) {
        let model = record.provider == nil ? "other" : (record.model ?? "other")
        var labels = [
            ("env", record.env ?? "none"), ("provider", record.provider ?? "none"), ("model", model),
            ("operation", record.operation.rawValue), ("outcome", record.outcome.rawValue),
        ]
        if perKeyLabels { labels.append(("key_id", record.keyID ?? "none")) }
        registry.makeCounter(
            descriptor: .init(namespace: "perimeter", metricName: "requests", unitName: "total", helpText: "Calls through the gateway"),
            labels: labels
        ).increment()
        let usageLabels = Array(labels.prefix(3)) + (perKeyLabels ? [("key_id", record.keyID ?? "none")] : [])
        if record.usage.totalTokens > 0 {
            registry.makeCounter(
                descriptor: .init(namespace: "perimeter", metricName: "input_tokens", unitName: "total", helpText: "Input tokens"),
                labels: usageLabels
            ).increment(by: Int64(record.usage.inputTokens))
            registry.makeCounter(
                descriptor: .init(namespace: "perimeter", metricName: "output_tokens", unitName: "total", helpText: "Output tokens"),
                labels: usageLabels
            ).increment(by: Int64(record.usage.outputTokens))
        }
        if let cost = record.cost, cost > .zero {
            registry.makeCounter(
                descriptor: .init(namespace: "perimeter", metricName: "cost_usd", unitName: "total", helpText: "Spend in US dollars"),
                labels: usageLabels
            ).increment(by: cost.usd)
        }
        if let upstream, let provider = record.provider {
            registry.makeDurationHistogram(
                descriptor: .init(
                    namespace: "perimeter", metricName: "upstream_latency", unitName: "seconds",
                    helpText: "Time from sending a call upstream to the provider's response head"),
                labels: [("provider", provider)], buckets: latencyBuckets
            ).record(upstream)
        }
        if let overhead {
            registry.makeDurationHistogram(
                descriptor: .init(
                    namespace: "perimeter", metricName: "gateway_overhead", unitName: "seconds",
                    helpText: "Time the gateway spends on a call before sending it upstream"),
                labels: [("operation", record.operation.rawValue)], buckets: latencyBuckets
            ).record(overhead)
        }
    }

    /// Sets the budget gauges, read at scrape time.
    package func setBudget(scope: String, status: BudgetStatus) {
        let labels = [("scope", scope), ("period", status.budget.period.rawValue)]
        registry.makeGauge(
            descriptor: .init(namespace: "perimeter", metricName: "budget_limit", unitName: "usd", helpText: "Budget limit in US dollars"),
            labels: labels
        ).set(status.budget.limit.usd)
        registry.makeGauge(
            descriptor: .init(
                namespace: "perimeter", metricName: "budget_spent", unitName: "usd", helpText: "Spend in the current budget period"),
            labels: labels
        ).set(status.spent.usd)
        registry.makeGauge(
            descriptor: .init(
                namespace: "perimeter", metricName: "budget_remaining", unitName: "usd",
                helpText: "What remains of the budget in its current period"),
            labels: labels
        ).set(status.remaining.usd)
    }

    package func setCounter(_ name: String, help: String, labels: [(String, String)] = [], to value: Int) {
        registry.makeGauge(descriptor: .init(namespace: "perimeter", metricName: name, unitName: "total", helpText: help), labels: labels)
            .set(Double(value))
    }

    package func alertRaised(_ type: AlertType) {
        registry.makeCounter(
            descriptor: .init(namespace: "perimeter", metricName: "alerts_raised", unitName: "total", helpText: "Alerts raised"),
            labels: [("type", type.rawValue)]
        ).increment()
    }

    package func alertDeliveryFailed(channel: String) {
        registry.makeCounter(
            descriptor: .init(
                namespace: "perimeter", metricName: "alert_delivery_failures", unitName: "total",
                helpText: "Failed alert delivery attempts"),
            labels: [("channel", channel)]
        ).increment()
    }
}

/// `GET /metrics`: Prometheus text format. Budget gauges are refreshed at each scrape.
struct MetricsRoute: Sendable {
    let metrics: GatewayMetrics
    let cache: KeyCache
    let ledger: LocalLedger
    let environmentBudgets: [String: Budget]
    let perKeyLabels: Bool

    func register(on router: Router<GatewayContext>) {
        router.get("metrics") { _, _ in
            let now = Date()
            for (name, budget) in environmentBudgets {
                metrics.setBudget(scope: "env:\(name)", status: await ledger.status(of: BudgetClaim(.environment(name), budget), at: now))
            }
            if perKeyLabels {
                for key in cache.allKeys() where !key.isRevoked {
                    guard let budget = key.policy.budget else { continue }
                    metrics.setBudget(scope: "key:\(key.id)", status: await ledger.status(of: BudgetClaim(.key(key.id), budget), at: now))
                }
            }
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: metrics.registry.emitToBuffer())))
        }
    }
}
