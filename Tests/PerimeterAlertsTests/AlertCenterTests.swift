import AsyncHTTPClient
import Foundation
import Logging
import PerimeterCore
import PerimeterProxy
import PerimeterSecrets
import PerimeterStorage
import ServiceLifecycle
import Testing

@testable import PerimeterAlerts

/// The alert center turns settled calls into alerts: fed records as the proxy would, it stores one
/// alert per rule crossed in the outbox, and drains its queue on graceful shutdown.
@Suite struct AlertCenterTests {
    @Test func settledCallsBecomeCanaryBurstAndThresholdAlertsOnceEach() async throws {
        let now = Date()
        let store = MemoryStore()
        var canary = VirtualKey.issue(name: "bait", env: "prod", owner: nil, now: now).0
        canary.isCanary = true
        var spender = VirtualKey.issue(name: "svc", env: "prod", owner: "team-a", now: now).0
        spender.policy.budget = Budget(limit: Money(nanos: 1_000_000_000), period: .month)
        let ledger = LocalLedger()
        let budgets = BudgetBook(ledger: ledger, environmentBudgets: [:])
        var settings = AlertSettings()
        settings.invalidKeyBurst = BurstRule(count: 3, window: 60)
        settings.newSourceLearning = nil
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let dispatcher = AlertDispatcher(
            store: store, channels: [], resolver: SecretResolver(stores: [:], logger: logger), client: client, logger: logger)
        let center = AlertCenter(
            settings: settings, store: store, cache: KeyCache(keys: [canary, spender]), budgets: budgets, dispatcher: dispatcher,
            logger: logger)
        let group = ServiceGroup(services: [center], gracefulShutdownSignals: [], cancellationSignals: [], logger: logger)

        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            // A canary key used once.
            center.observe(
                CallRecord(
                    id: "c1", time: now, keyID: canary.id, env: "prod", clientIP: "198.51.100.7", operation: .chat, status: 401,
                    outcome: .denied, errorCode: "invalid_api_key"))
            // The center has learnt its starting thresholds once it has handled a call: wait for that, so
            // the spend below is news to it.
            for _ in 0..<1000 where try await store.alerts(since: nil, limit: 10).isEmpty {
                try await Task.sleep(for: .milliseconds(5))
            }
            // Unknown keys from one address, one more than the burst needs: one alert.
            for index in 0..<4 {
                center.observe(
                    CallRecord(
                        id: "u\(index)", time: now, clientIP: "203.0.113.9", operation: .chat, status: 401, outcome: .denied,
                        errorCode: GatewayError.invalidKey.code))
            }
            // 85 % of a key's budget settled: the 50 % and 80 % thresholds are crossed, one alert says so.
            let claim = try #require(budgets.keyClaim(for: spender))
            _ = try await ledger.reserve(id: "s1", amount: Money(nanos: 850_000_000), against: [claim], at: now)
            await ledger.settle(id: "s1", actual: Money(nanos: 850_000_000))
            center.observe(
                CallRecord(
                    id: "s1", time: now, keyID: spender.id, env: "prod", clientIP: "10.0.0.1", operation: .chat, status: 200,
                    outcome: .ok, usage: Usage(inputTokens: 10, outputTokens: 10), cost: Money(nanos: 850_000_000)))
            // And once more: no new threshold is crossed.
            center.observe(
                CallRecord(
                    id: "s2", time: now, keyID: spender.id, env: "prod", clientIP: "10.0.0.1", operation: .chat, status: 200,
                    outcome: .ok, usage: Usage(inputTokens: 1, outputTokens: 1), cost: Money(nanos: 1)))
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        try await client.shutdown()

        let alerts = try await store.alerts(since: nil, limit: 100).map(\.alert)
        #expect(alerts.map(\.type).sorted { $0.rawValue < $1.rawValue } == [.budgetThreshold, .canaryUsed, .invalidKeyBurst])
        let canaryAlert = try #require(alerts.first { $0.type == .canaryUsed })
        #expect(canaryAlert.severity == .critical && canaryAlert.keyID == canary.id)
        let burst = try #require(alerts.first { $0.type == .invalidKeyBurst })
        #expect(burst.details["client_ip"] == "203.0.113.9" && burst.details["count"] == "3")
        let threshold = try #require(alerts.first { $0.type == .budgetThreshold })
        #expect(threshold.severity == .warning && threshold.keyID == spender.id)
    }
}
