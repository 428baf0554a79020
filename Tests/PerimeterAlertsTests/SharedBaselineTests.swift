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
    @Test func twoInstancesFindOneSpikeFromTheSharedLog() async throws {
        let store = MemoryStore()
        let key = VirtualKey.issue(name: "svc", env: "prod", owner: nil, now: Date()).0
        var settings = AlertSettings()
        settings.spike = SpikeWatch.Rule(window: 1, factor: 3, minimumRequests: 5, minimumCost: Money(nanos: 1))
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
        let centers = (0..<2).map { _ in
            AlertCenter(
                settings: settings, store: store, cache: KeyCache(keys: [key]),
                budgets: BudgetBook(ledger: LocalLedger(), environmentBudgets: [:]),
                dispatcher: AlertDispatcher(
                    store: store, channels: [], resolver: SecretResolver(stores: [:], logger: logger), client: client, logger: logger),
                logger: logger, sharedBaselines: true)
        }
        let group = ServiceGroup(services: centers, gracefulShutdownSignals: [], cancellationSignals: [], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            // Thirty calls in one second, written by whichever instance served them once both have read
            // the history (what they read at start is history, not news), however long a loaded
            // machine took to start them.
            for _ in 0..<1200 where !centers.allSatisfy({ $0.learned.load(ordering: .acquiring) }) {
                try await Task.sleep(for: .milliseconds(50))
            }
            let burst = Date().addingTimeInterval(1)
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
}
