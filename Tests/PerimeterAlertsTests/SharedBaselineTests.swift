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

/// Instances sharing a call log take spike baselines from it, window by window: every instance sees
/// every call, all of them find the same spike, and the store keeps one alert.
@Suite struct SharedBaselineTests {
    /// Two alert centers sharing one store, as two instances on one database.
    static func twoInstances(settings: AlertSettings, store: MemoryStore, key: VirtualKey, client: HTTPClient, logger: Logger)
        -> [AlertCenter]
    {
        (0..<2).map { _ in
            AlertCenter(
                settings: settings, store: store, cache: KeyCache(keys: [key]),
                budgets: BudgetBook(ledger: LocalLedger(), environmentBudgets: [:]),
                dispatcher: AlertDispatcher(
                    store: store, channels: [], resolver: SecretResolver(stores: [:], logger: logger), client: client, logger: logger),
                logger: logger, sharedBaselines: true)
        }
    }

    @Test func twoInstancesFindOneSpikeFromTheSharedLog() async throws {
        let store = MemoryStore()
        let key = VirtualKey.issue(name: "svc", env: "prod", owner: nil, now: Date()).0
        var settings = AlertSettings()
        // A spike needs five calls, or 250 nanodollars: the usual two calls after a quiet spell are no spike.
        settings.spike = SpikeWatch.Rule(window: 1, factor: 3, minimumRequests: 5, minimumCost: Money(nanos: 250))
        settings.newSourceLearning = nil
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        // The usual: two calls a second for the last ten seconds, in the log before the instances start.
        let now = Date()
        var history: [CallRecord] = []
        for second in 1...10 {
            for index in 0..<2 {
                history.append(
                    CallRecord(
                        id: "h\(second)-\(index)", time: now.addingTimeInterval(-Double(second)), keyID: key.id, env: "prod",
                        operation: .chat, status: 200, outcome: .ok, usage: Usage(inputTokens: 1), cost: Money(nanos: 10)))
            }
        }
        try await store.append(history)
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let centers = Self.twoInstances(settings: settings, store: store, key: key, client: client, logger: logger)
        let group = ServiceGroup(services: centers, gracefulShutdownSignals: [], cancellationSignals: [], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            // Both instances have read the history (what they read at start is history, not news),
            // however long a loaded machine took to start them. Then the usual again, two calls a
            // second for three seconds (a baseline even if the start took longer than the history
            // they could learn), a quiet second, and thirty calls in one second, written by whichever
            // instance served them.
            for _ in 0..<1200 where !centers.allSatisfy({ $0.learned.load(ordering: .acquiring) }) {
                try await Task.sleep(for: .milliseconds(50))
            }
            let start = Date().addingTimeInterval(1)
            var usual: [CallRecord] = []
            for second in 0..<3 {
                for index in 0..<2 {
                    usual.append(
                        CallRecord(
                            id: "u\(second)-\(index)", time: start.addingTimeInterval(Double(second)), keyID: key.id, env: "prod",
                            operation: .chat, status: 200, outcome: .ok, usage: Usage(inputTokens: 1), cost: Money(nanos: 10)))
                }
            }
            try await store.append(usual)
            let burst = start.addingTimeInterval(4)
            try await store.append(
                (0..<30).map { index in
                    CallRecord(
                        id: "b\(index)", time: burst, keyID: key.id, env: "prod", operation: .chat, status: 200, outcome: .ok,
                        usage: Usage(inputTokens: 1), cost: Money(nanos: 10))
                })
            for _ in 0..<1200 where try await store.alerts(since: nil, limit: 10).isEmpty {
                try await Task.sleep(for: .milliseconds(50))
            }
            try await Task.sleep(for: .milliseconds(1500))  // both instances have read that window
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        try await client.shutdown()
        let spikes = try await store.alerts(since: nil, limit: 10).map(\.alert).filter { $0.type == .spendSpike }
        #expect(spikes.count == 1)
        #expect(spikes.first?.details["requests"] == "30")
    }

    /// Six denials of one key and six unknown-key calls from one address at each of two instances:
    /// neither instance alone reaches a burst of ten, together they do, and each burst alerts once.
    @Test func burstsSpreadOverTwoInstancesAreSeenWhole() async throws {
        let store = MemoryStore()
        let key = VirtualKey.issue(name: "svc", env: "prod", owner: nil, now: Date()).0
        var settings = AlertSettings()
        settings.denialBurst = .init(count: 10, window: 60)
        settings.invalidKeyBurst = .init(count: 10, window: 60)
        settings.newSourceLearning = nil
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let centers = Self.twoInstances(settings: settings, store: store, key: key, client: client, logger: logger)
        let group = ServiceGroup(services: centers, gracefulShutdownSignals: [], cancellationSignals: [], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            for (index, center) in centers.enumerated() {
                var records: [CallRecord] = []
                for call in 0..<6 {
                    var denied = CallRecord(
                        id: "d\(index)-\(call)", time: Date(), keyID: key.id, env: "prod", operation: .chat, status: 429,
                        outcome: .denied, usage: Usage(), cost: nil)
                    denied.errorCode = "rate_limited"
                    var unknown = CallRecord(
                        id: "u\(index)-\(call)", time: Date(), keyID: nil, env: nil, operation: .chat, status: 401, outcome: .denied,
                        usage: Usage(), cost: nil)
                    unknown.errorCode = GatewayError.invalidKey.code
                    unknown.clientIP = "203.0.113.9"
                    records += [denied, unknown]
                }
                // Each instance sees its own calls, and writes them to the shared log.
                for record in records { center.observe(record) }
                try await store.append(records)
            }
            for _ in 0..<200 where try await store.alerts(since: nil, limit: 10).count < 2 {
                try await Task.sleep(for: .milliseconds(50))
            }
            try await Task.sleep(for: .milliseconds(2500))  // more ticks: still one alert each
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        try await client.shutdown()
        let alerts = try await store.alerts(since: nil, limit: 10).map(\.alert)
        #expect(alerts.filter { $0.type == .denialBurst }.map(\.keyID) == [key.id])
        #expect(alerts.filter { $0.type == .invalidKeyBurst }.map { $0.details["client_ip"] } == ["203.0.113.9"])
        #expect(alerts.filter { $0.type == .denialBurst }.first?.details["count"] == "12")
    }
}
