import Foundation
import Hummingbird
import PerimeterCore
import PerimeterStorage
import Prometheus
import Synchronization

/// The gateway's Prometheus metrics, served at `GET /metrics` in the text exposition format.
///
/// Labels stay bounded: the model label is the requested model only when a provider serves it
/// (anything else is `other`), and a key label is added only with `metrics.per_key_labels: true`.
package final class GatewayMetrics: Sendable {
    package let registry: PrometheusCollectorRegistry
    private let perKeyLabels: Bool
    private let counters = Mutex<[CounterKey: Counter]>([:])
    private let histograms = Mutex<[HistogramKey: DurationHistogram]>([:])
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
    ///
    /// Each label set's counters are made once and then found in a dictionary: the registry's own
    /// lookup builds and validates names on every call, which is too slow for every request.
    package func record(_ record: CallRecord, upstream: Duration?, overhead: Duration?) {
        let series = Series(
            env: record.env ?? "none", provider: record.provider ?? "none",
            model: record.provider == nil ? "other" : (record.model ?? "other"), operation: record.operation.rawValue,
            outcome: record.outcome.rawValue, keyID: perKeyLabels ? (record.keyID ?? "none") : nil)
        counter(.requests, series).increment()
        if record.usage.totalTokens > 0 {
            counter(.inputTokens, series).increment(by: Int64(record.usage.inputTokens))
            counter(.outputTokens, series).increment(by: Int64(record.usage.outputTokens))
        }
        if let cost = record.cost, cost > .zero {
            counter(.cost, series).increment(by: cost.usd)
        }
        if let upstream, let provider = record.provider {
            histogram(.upstreamLatency, label: provider).record(upstream)
        }
        if let overhead {
            histogram(.gatewayOverhead, label: record.operation.rawValue).record(overhead)
        }
    }

    /// The labels of one call's counters; the token and cost counters use only env, provider and model.
    private struct Series: Hashable {
        var env: String
        var provider: String
        var model: String
        var operation: String
        var outcome: String
        var keyID: String?

        func labels(for metric: CallCounter) -> [(String, String)] {
            var labels = [("env", env), ("provider", provider), ("model", model)]
            if metric == .requests { labels += [("operation", operation), ("outcome", outcome)] }
            if let keyID { labels.append(("key_id", keyID)) }
            return labels
        }

        func narrowed(for metric: CallCounter) -> Series {
            guard metric != .requests else { return self }
            var series = self
            (series.operation, series.outcome) = ("", "")
            return series
        }
    }

    private enum CallCounter: Hashable {
        case requests, inputTokens, outputTokens, cost

        var descriptor: MetricNameDescriptor {
            switch self {
            case .requests: .init(namespace: "perimeter", metricName: "requests", unitName: "total", helpText: "Calls through the gateway")
            case .inputTokens: .init(namespace: "perimeter", metricName: "input_tokens", unitName: "total", helpText: "Input tokens")
            case .outputTokens: .init(namespace: "perimeter", metricName: "output_tokens", unitName: "total", helpText: "Output tokens")
            case .cost: .init(namespace: "perimeter", metricName: "cost_usd", unitName: "total", helpText: "Spend in US dollars")
            }
        }
    }

    private enum CallHistogram: Hashable {
        case upstreamLatency, gatewayOverhead

        var descriptor: MetricNameDescriptor {
            switch self {
            case .upstreamLatency:
                .init(
                    namespace: "perimeter", metricName: "upstream_latency", unitName: "seconds",
                    helpText: "Time from sending a call upstream to the provider's response head")
            case .gatewayOverhead:
                .init(
                    namespace: "perimeter", metricName: "gateway_overhead", unitName: "seconds",
                    helpText: "Time the gateway spends on a call before sending it upstream")
            }
        }

        var labelName: String { self == .upstreamLatency ? "provider" : "operation" }
    }

    private struct CounterKey: Hashable {
        let metric: CallCounter
        let series: Series
    }

    private struct HistogramKey: Hashable {
        let metric: CallHistogram
        let label: String
    }

    private func counter(_ metric: CallCounter, _ series: Series) -> Counter {
        let key = CounterKey(metric: metric, series: series.narrowed(for: metric))
        if let known = counters.withLock({ $0[key] }) { return known }
        // The registry returns the same counter for the same name and labels, so a race here is harmless.
        let made = registry.makeCounter(descriptor: metric.descriptor, labels: key.series.labels(for: metric))
        counters.withLock { $0[key] = made }
        return made
    }

    private func histogram(_ metric: CallHistogram, label: String) -> DurationHistogram {
        let key = HistogramKey(metric: metric, label: label)
        if let known = histograms.withLock({ $0[key] }) { return known }
        let made = registry.makeDurationHistogram(
            descriptor: metric.descriptor, labels: [(metric.labelName, label)], buckets: latencyBuckets)
        histograms.withLock { $0[key] = made }
        return made
    }

    /// Sets the budget gauges, read at scrape time.
    package func setBudget(scope: String, status: BudgetStatus) {
        let labels = [("scope", scope), ("period", status.budget.period.rawValue)]
        setGauge("budget_limit", unit: "usd", help: "Budget limit in US dollars", labels: labels, to: status.budget.limit.usd)
        setGauge("budget_spent", unit: "usd", help: "Spend in the current budget period", labels: labels, to: status.spent.usd)
        setGauge(
            "budget_remaining", unit: "usd", help: "What remains of the budget in its current period", labels: labels,
            to: status.remaining.usd)
    }

    /// Sets the call log's backlog gauge and dropped counter, read at scrape time.
    package func setCallLog(backlog: Int, dropped: Int) {
        setGauge("call_log_backlog", unit: "records", help: "Call records in memory waiting for the database", to: Double(backlog))
        setGauge(
            "call_log_dropped", unit: "records", help: "Records of refused calls dropped because the call log backlog was full",
            to: Double(dropped))
    }

    /// The registry returns the same gauge for the same name and labels, so setting it again is cheap.
    private func setGauge(_ name: String, unit: String, help: String, labels: [(String, String)] = [], to value: Double) {
        registry.makeGauge(descriptor: .init(namespace: "perimeter", metricName: name, unitName: unit, helpText: help), labels: labels)
            .set(value)
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
