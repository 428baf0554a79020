import Foundation
import Logging
import PerimeterCore
import PerimeterProxy
import PerimeterStorage
import ServiceLifecycle
import Synchronization

/// Watches every finished call for what should alert: budget thresholds, spend and request spikes,
/// new source networks, bursts of denials and of unknown keys, and canary keys. The request path only
/// hands the call record over (a non-blocking queue); the rules run here, and alerts go to the
/// durable outbox that ``AlertDispatcher`` delivers from.
package final class AlertCenter: Service, CallWatcher, Sendable {
    private struct Rules {
        var thresholds = ThresholdWatch()
        var spikes: SpikeWatch
        var sources: SourceWatch?
        var denials: BurstWatch
        var invalidKeys: BurstWatch
        /// Keys with a priced call lately, by when: their budgets are looked at again each second, as
        /// spend through other instances sharing the budget arrives between this instance's calls.
        var spending: [String: Date] = [:]
        /// With shared baselines: the start of the next spike window to read from the call log.
        var nextWindow: Date?
        /// With shared baselines: denial and unknown-key bursts alerted, by subject, and until when a
        /// burst that goes on is the same burst.
        var sharedBursts: [String: Date] = [:]
    }

    let settings: AlertSettings
    private let store: any AlertStore & CallLog
    private let cache: KeyCache
    private let budgets: BudgetBook
    private let dispatcher: AlertDispatcher
    private let logger: Logger
    private let metrics: GatewayMetrics?
    private let rules: Mutex<Rules>
    private let queue: AsyncStream<CallRecord>
    private let input: AsyncStream<CallRecord>.Continuation
    let raised = Atomic<Int>(0)
    /// Set once the history is read: calls after this are news.
    let learned = Atomic<Bool>(false)
    /// Several instances share the call log: spike baselines come from it, window by window, so every
    /// instance sees every call (and all of them the same spike, which the store raises once).
    private let sharedBaselines: Bool
    /// How long after a window ends its calls are read, for the last batches to be written.
    static let windowGrace: TimeInterval = 3

    package init(
        settings: AlertSettings, store: any AlertStore & CallLog, cache: KeyCache, budgets: BudgetBook,
        dispatcher: AlertDispatcher, logger: Logger, metrics: GatewayMetrics? = nil, sharedBaselines: Bool = false
    ) {
        self.sharedBaselines = sharedBaselines
        self.metrics = metrics
        self.settings = settings
        self.store = store
        self.cache = cache
        self.budgets = budgets
        self.dispatcher = dispatcher
        self.logger = logger
        rules = Mutex(
            Rules(
                spikes: SpikeWatch(rule: settings.spike), sources: settings.newSourceLearning.map { SourceWatch(learning: $0) },
                denials: BurstWatch(count: settings.denialBurst.count, window: settings.denialBurst.window),
                invalidKeys: BurstWatch(count: settings.invalidKeyBurst.count, window: settings.invalidKeyBurst.window)))
        (queue, input) = AsyncStream<CallRecord>.makeStream(bufferingPolicy: .bufferingNewest(50_000))
    }

    /// Called by the request path for every finished call; never waits.
    package func observe(_ record: CallRecord) {
        input.yield(record)
    }

    package func run() async throws {
        await learnFromHistory()
        learned.store(true, ordering: .releasing)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await record in self.queue {
                    await self.process(record)
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    await self.tick(now: Date())
                }
            }
            await withGracefulShutdownHandler {
                try? await gracefulShutdown()
            } onGracefulShutdown: {
                self.input.finish()
            }
            // Let the queue drain, then stop the ticker.
            _ = await group.next()
            group.cancelAll()
        }
    }

    /// Known networks of each key, and thresholds already reached this period, so a restart does not
    /// alert again; with shared baselines, the spike baselines of the last hour from the call log.
    private func learnFromHistory() async {
        if sharedBaselines {
            let now = Date()
            let window = settings.spike.window
            let current = rules.withLock { $0.spikes.alignedStart(now) }
            let windows = max(1, min(12, Int(3600 / window)))
            rules.withLock { $0.nextWindow = current.addingTimeInterval(-Double(windows) * window) }
            // Spikes found while learning are history, not news.
            _ = await readClosedWindows(now: now)
        }
        if let sources = try? await store.keySources() {
            rules.withLock { rules in
                for source in sources.sorted(by: { $0.firstSeen < $1.firstSeen }) {
                    _ = rules.sources?.record(keyID: source.keyID, address: source.address, at: source.firstSeen)
                }
            }
        }
        let now = Date()
        for claim in budgets.allClaims(keys: cache.allKeys()) {
            let scope = claim.scope.label
            let status = await budgets.status(of: claim, at: now)
            let fraction = status.budget.limit.nanos > 0 ? Double(status.spent.nanos) / Double(status.budget.limit.nanos) : 0
            rules.withLock {
                $0.thresholds.prime(scope: scope, periodStart: status.periodStart, fraction: fraction, thresholds: settings.thresholds)
            }
        }
    }

    private func process(_ record: CallRecord) async {
        let time = record.time
        let key = record.keyID.flatMap { cache.key(id: $0) }
        var alerts: [Alert] = []
        if let key, key.isCanary {
            alerts.append(
                Alert(
                    type: .canaryUsed, severity: .critical, time: time, keyID: key.id, env: key.env,
                    message:
                        "Canary key '\(key.name)' (\(key.id)) was used from \(record.clientIP ?? "an unknown address")"
                        + "\(record.userAgent.map { " by \"\($0)\"" } ?? "") at \(Timestamp.format(time)): whoever holds it found a planted decoy.",
                    details: [
                        "client_ip": record.clientIP ?? "", "user_agent": record.userAgent ?? "",
                        "path_operation": record.operation.rawValue,
                    ]))
            await raise(alerts)
            return
        }
        // With shared baselines, bursts are counted from the shared log each second instead (``sharedBurstAlerts``).
        if !countsBurstsFromLog, record.keyID == nil, record.errorCode == GatewayError.invalidKey.code, let address = record.clientIP {
            if let count = rules.withLock({ $0.invalidKeys.record(address, at: time) }) {
                alerts.append(invalidKeyBurstAlert(address: address, count: count, time: time))
            }
        }
        if let key {
            if record.outcome == .denied {
                if !countsBurstsFromLog, let count = rules.withLock({ $0.denials.record(key.id, at: time) }) {
                    alerts.append(denialBurstAlert(key: key, count: count, lastError: record.errorCode, time: time))
                }
            } else {
                if !sharedBaselines {
                    let spikes = rules.withLock { $0.spikes.record(keyID: key.id, cost: record.cost ?? .zero, at: time) }
                    alerts += spikes.map(spikeAlert)
                }
                if let address = record.clientIP,
                    let network = rules.withLock({ $0.sources?.record(keyID: key.id, address: address, at: time) })
                {
                    alerts.append(
                        Alert(
                            type: .newSource, severity: .warning, time: time, keyID: key.id, env: key.env,
                            message:
                                "Key '\(key.name)' (\(key.id)) was used from a new network, \(network) (\(address)), never seen for this key before.",
                            details: ["client_ip": address, "network": network], onceKey: "new_source|\(key.id)|\(network)"))
                }
                if let cost = record.cost, cost > .zero {
                    rules.withLock { $0.spending[key.id] = Date() }
                    alerts += await thresholdAlerts(key: key, time: time)
                }
            }
        }
        await raise(alerts)
    }

    private func thresholdAlerts(key: VirtualKey, time: Date) async -> [Alert] {
        var alerts: [Alert] = []
        // A revoked key's own budget no longer matters; its environment's still does.
        let claims = key.isRevoked ? [budgets.environmentClaim(key.env)].compactMap { $0 } : budgets.claims(for: key)
        for claim in claims {
            let scope = claim.scope.label
            let status = await budgets.status(of: claim, at: time)
            guard status.budget.limit.nanos > 0 else { continue }
            let fraction = Double(status.spent.nanos) / Double(status.budget.limit.nanos)
            let crossed = rules.withLock {
                $0.thresholds.crossed(scope: scope, periodStart: status.periodStart, fraction: fraction, thresholds: settings.thresholds)
            }
            guard let highest = crossed.last else { continue }
            let isKey = scope.hasPrefix("key:")
            let subject = isKey ? "Key '\(key.name)' (\(key.id))" : "Environment '\(key.env)'"
            alerts.append(
                Alert(
                    type: .budgetThreshold, severity: highest >= 1 ? .critical : .warning, time: time, keyID: isKey ? key.id : nil,
                    env: key.env,
                    message:
                        "\(subject) has spent \(status.spent) of its \(status.budget.period.rawValue) budget of \(status.budget.limit) (\(Int((fraction * 100).rounded())) %), crossing \(Int((highest * 100).rounded())) %.",
                    details: [
                        "scope": scope, "threshold": String(highest), "spent_usd": String(status.spent.usd),
                        "limit_usd": String(status.budget.limit.usd), "period_start": Timestamp.format(status.periodStart),
                    ],
                    onceKey: "budget_threshold|\(scope)|\(status.budget.period.rawValue)|\(Timestamp.format(status.periodStart))|\(highest)"
                ))
        }
        return alerts
    }

    private func spikeAlert(_ spike: SpikeWatch.Spike) -> Alert {
        let key = cache.key(id: spike.keyID)
        let window = Int(settings.spike.window)
        let what =
            spike.byCost
            ? "spent \(spike.cost) in \(window) s against a usual $\(String(format: "%.4f", spike.baselineCost))"
            : "made \(spike.requests) calls in \(window) s against a usual \(String(format: "%.1f", spike.baselineRequests))"
        return Alert(
            type: .spendSpike, severity: .warning, time: Date(), keyID: spike.keyID, env: key?.env,
            message: "Key '\(key?.name ?? spike.keyID)' (\(spike.keyID)) \(what): more than \(settings.spike.factor)× its baseline.",
            details: [
                "requests": String(spike.requests), "cost_usd": String(spike.cost.usd),
                "baseline_requests": String(format: "%.2f", spike.baselineRequests), "window_start": Timestamp.format(spike.windowStart),
            ],
            onceKey: "spend_spike|\(spike.keyID)|\(Timestamp.format(spike.windowStart))")
    }

    /// The start of the `window`-long slice of time holding `time`, for once keys: instances that see
    /// the same burst in the same slice raise one alert.
    private func bucket(_ time: Date, _ window: TimeInterval) -> String {
        Timestamp.format(Date(timeIntervalSince1970: (time.timeIntervalSince1970 / max(1, window)).rounded(.down) * max(1, window)))
    }

    private func tick(now: Date) async {
        let shared = sharedBaselines
        let (spikes, spending) = rules.withLock { rules in
            rules.denials.prune(now: now)
            rules.invalidKeys.prune(now: now)
            rules.spending = rules.spending.filter { $0.value > now.addingTimeInterval(-60) }
            return (shared ? [] : rules.spikes.tick(now: now), Array(rules.spending.keys))
        }
        var alerts = spikes.map(spikeAlert)
        if shared { alerts += await readClosedWindows(now: now).map(spikeAlert) }
        if countsBurstsFromLog { alerts += await sharedBurstAlerts(now: now) }
        for id in spending {
            if let key = cache.key(id: id) { alerts += await thresholdAlerts(key: key, time: now) }
        }
        await raise(alerts)
    }

    /// With shared baselines: every spike window that ended at least ``windowGrace`` ago and was not
    /// read yet, its calls per key counted from the call log, then closed.
    private func readClosedWindows(now: Date) async -> [SpikeWatch.Spike] {
        let window = settings.spike.window
        var spikes: [SpikeWatch.Spike] = []
        while let start = rules.withLock({ $0.nextWindow }), start.addingTimeInterval(window + Self.windowGrace) <= now {
            let end = start.addingTimeInterval(window)
            guard let rows = try? await store.spend(SpendQuery(groupBy: .key, since: start, until: end)) else { break }
            spikes += rules.withLock { rules in
                var found: [SpikeWatch.Spike] = []
                for row in rows where !row.group.isEmpty && row.calls > 0 {
                    found += rules.spikes.record(keyID: row.group, cost: row.cost, requests: row.calls, at: start)
                }
                found += rules.spikes.tick(now: end)
                rules.nextWindow = end
                return found
            }
        }
        return spikes
    }

    /// Instances share the call log and it can count refusals: bursts are counted from it, whole.
    private var countsBurstsFromLog: Bool { sharedBaselines && store is any RefusalLog }

    /// With shared baselines: denial and unknown-key bursts counted over every instance's calls of
    /// the last window. A burst alerts once; while it goes on (within a window of the last count at
    /// or over the threshold) it is the same burst.
    private func sharedBurstAlerts(now: Date) async -> [Alert] {
        guard let log = store as? any RefusalLog else { return [] }
        let (denial, unknown) = (settings.denialBurst, settings.invalidKeyBurst)
        let both = min(denial.count, unknown.count)
        guard let denials = try? await log.refusals(since: now.addingTimeInterval(-denial.window), until: now, atLeast: both) else {
            return []
        }
        var unknownKeys = denials
        if unknown.window != denial.window {
            guard let counted = try? await log.refusals(since: now.addingTimeInterval(-unknown.window), until: now, atLeast: both)
            else { return [] }
            unknownKeys = counted
        }
        var bursts: [(subject: String, count: Int, window: TimeInterval, make: () -> Alert?)] = []
        for (keyID, count) in denials.deniedByKey where count >= denial.count {
            bursts.append(
                (
                    "key|\(keyID)", count, denial.window,
                    { self.cache.key(id: keyID).map { self.denialBurstAlert(key: $0, count: count, lastError: nil, time: now) } }
                ))
        }
        for (address, count) in unknownKeys.unknownKeyByAddress where count >= unknown.count {
            bursts.append(
                ("address|\(address)", count, unknown.window, { self.invalidKeyBurstAlert(address: address, count: count, time: now) }))
        }
        let fresh = rules.withLock { rules -> [Int] in
            rules.sharedBursts = rules.sharedBursts.filter { $0.value > now }
            var fresh: [Int] = []
            for (index, burst) in bursts.enumerated() {
                if rules.sharedBursts[burst.subject] == nil { fresh.append(index) }
                rules.sharedBursts[burst.subject] = now.addingTimeInterval(burst.window)
            }
            return fresh
        }
        return fresh.compactMap { bursts[$0].make() }
    }

    private func invalidKeyBurstAlert(address: String, count: Int, time: Date) -> Alert {
        Alert(
            type: .invalidKeyBurst, severity: .warning, time: time, keyID: nil, env: nil,
            message:
                "\(count) calls with unknown keys from \(address) within \(Int(settings.invalidKeyBurst.window)) s: someone may be guessing keys. Its unknown-key answers are slowed down.",
            details: ["client_ip": address, "count": String(count)],
            onceKey: "invalid_key_burst|\(address)|\(bucket(time, settings.invalidKeyBurst.window))")
    }

    private func denialBurstAlert(key: VirtualKey, count: Int, lastError: String?, time: Date) -> Alert {
        Alert(
            type: .denialBurst, severity: .warning, time: time, keyID: key.id, env: key.env,
            message:
                "Key '\(key.name)' (\(key.id)) was denied \(count) times within \(Int(settings.denialBurst.window)) s\(lastError.map { " (last: \($0))" } ?? ""): a leaked key may be probing its limits.",
            details: ["count": String(count), "last_error": lastError ?? ""],
            onceKey: "denial_burst|\(key.id)|\(bucket(time, settings.denialBurst.window))")
    }

    /// Alerts found outside the call path (a provider's usage report read by the provider key sync):
    /// stored once each by their once-key, counted, logged and delivered like the center's own.
    package func raise(found alerts: [Alert]) async {
        await raise(alerts)
    }

    private func raise(_ alerts: [Alert]) async {
        for alert in alerts {
            let channels = settings.channels.filter { $0.accepts(alert) }.map(\.name)
            do {
                // Another instance raised it already (a threshold alert, once for the cluster).
                guard try await store.insertAlert(alert, channels: channels, at: Date()) else { continue }
                raised.add(1, ordering: .relaxed)
                metrics?.alertRaised(alert.type)
                logger.warning(
                    "alert \(alert.type.rawValue): \(alert.message)",
                    metadata: ["perimeter.alert.id": "\(alert.id)", "perimeter.alert.severity": "\(alert.severity.rawValue)"])
            } catch {
                logger.error("could not store alert \(alert.id): \(error)")
            }
        }
        if !alerts.isEmpty { dispatcher.wake() }
    }
}
