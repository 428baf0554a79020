import Foundation
import HTTPTypes
import Logging
import NIOCore
import PerimeterCore
import PerimeterProviders
import PerimeterSecrets
import PerimeterStorage
import Testing

@testable import PerimeterProxy

/// A streamed answer whose body the server never writes (the client left before the head went out)
/// still finishes its call: once, as cancelled by the client, with its reservation settled.
@Suite struct PendingCallTests {
    @Test func anAnswerDroppedBeforeItsBodyRanFinishesTheCallOnce() async throws {
        let store = MemoryStore()
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let writer = CallLogWriter(log: store, keys: store, cache: KeyCache(), interval: .seconds(3600), logger: logger)
        let ledger = LocalLedger()
        let budget = Budget(limit: Money(nanos: 1_000_000_000), period: .total)
        var key = VirtualKey.issue(name: "svc", env: "dev", owner: nil, now: Date()).0
        key.policy.budget = budget
        let budgets = BudgetBook(ledger: ledger, environmentBudgets: [:])
        let handler = ProxyHandler(
            authenticator: Authenticator(cache: KeyCache(keys: [key])), directory: ProviderDirectory(providers: []),
            secrets: SecretResolver(stores: [:], logger: logger), prices: .builtIn(overriddenBy: [:]), callLog: writer,
            budgets: budgets, rateLimiter: RateLimiter(), unknownKeys: UnknownKeyGuard(count: 10, window: 60),
            clientAddress: ClientAddress(trustedProxies: []), maximumBodySize: 1 << 20)

        let claim = try #require(budgets.keyClaim(for: key))
        #expect(try await ledger.reserve(id: "req_1", amount: Money(nanos: 5000), against: [claim], at: Date()) == nil)
        var call = ProxyHandler.Call(
            record: CallRecord(id: "req_1", time: Date(), keyID: key.id, operation: .chat, status: 200, outcome: .ok),
            started: .now, key: key)
        call.holdsReservation = true
        call.sentUpstream = .now
        let upstream = UpstreamResponse(
            status: 200, headers: [.contentType: "text/event-stream"], body: .buffers([ByteBuffer(string: "data: {}\n\n")]))

        do {
            let response = handler.relay(upstream, meter: UsageMeter(format: .openAIChat, isStream: true), call: call)
            #expect(response.status == .ok)
        }  // The response, and its body that never ran, are dropped here.

        var recorded: [CallRecord] = []
        for _ in 0..<500 where recorded.isEmpty {
            await writer.flush()
            recorded = try await store.calls(matching: CallQuery())
            if recorded.isEmpty { try await Task.sleep(for: .milliseconds(2)) }
        }
        #expect(recorded.map(\.id) == ["req_1"])
        #expect(recorded.first?.outcome == .clientCancelled)
        #expect(await ledger.status(of: claim, at: Date()).reserved == .zero)
        // Once only: nothing else arrives later.
        try await Task.sleep(for: .milliseconds(20))
        await writer.flush()
        #expect(try await store.calls(matching: CallQuery()).count == 1)
    }
}
