import Foundation
import Logging
import PerimeterCore
import PerimeterStorage
import Synchronization
import Testing

@testable import PerimeterProviderAdmin

/// A provider's admin API as a value the test sets: its keys, its usage, whether it refuses.
final class FakeAdminAPI: ProviderAdminAPI, Sendable {
    struct State {
        var keys: [ProviderKey] = []
        var buckets: [ProviderUsageBucket] = []
        var refuse = false
        var disabled: [String] = []
    }
    let state = Mutex(State())

    func listKeys() async throws -> [ProviderKey] {
        try state.withLock { state in
            if state.refuse { throw ProviderAdminError.refused(status: 401, message: "invalid x-api-key") }
            return state.keys
        }
    }

    func usage(from start: Date, to end: Date) async throws -> [ProviderUsageBucket] {
        state.withLock { $0.buckets.filter { $0.start >= start && $0.end <= end } }
    }

    func disable(_ key: ProviderKey) async throws { state.withLock { $0.disabled.append(key.id) } }
}

@Suite struct ProviderKeySyncTests {
    let now = Date(timeIntervalSince1970: 1_790_003_000)  // 200 s into an hour
    var hour: Date { Date(timeIntervalSince1970: Double(1_790_003_000 - 1_790_003_000 % 3600)) }
    static let held = "sk-proj-HELDabcdefghijklmnopqrstuvwxyz0123456789wxyz"

    /// Alerts the sync raised, in order.
    final class Raised: Sendable {
        let alerts = Mutex<[Alert]>([])
        func add(_ new: [Alert]) { alerts.withLock { $0 += new } }
        var all: [Alert] { alerts.withLock { $0 } }
    }

    func setup() -> (ProviderKeySync, FakeAdminAPI, MemoryStore, Raised) {
        let api = FakeAdminAPI()
        let store = MemoryStore()
        let raised = Raised()
        let target = ProviderAdminTarget(
            provider: "openai", api: api, held: .init(reference: "env:OPENAI_API_KEY") { Secret(Self.held) }, heldKeyID: nil,
            admin: .init(reference: "store:openai-admin") { Secret("sk-admin-ADMINsecretvalue9999") },
            loggedProviders: ["openai", "openai-eu"])
        let sync = ProviderKeySync(
            targets: [target], store: store, calls: store, maxAge: .seconds(90 * 86400), logger: Logger(label: "test")
        ) { alerts in raised.add(alerts) }
        api.state.withLock { state in
            state.keys = [
                ProviderKey(provider: "openai", id: "key_held", kind: "api_key", hint: "sk-proj-...wxyz", status: "active", createdAt: now),
                ProviderKey(
                    provider: "openai", id: "key_laptop", kind: "api_key", name: "bob-laptop", hint: "sk-proj-...0000",
                    owner: "bob@example.com", createdAt: now),
                ProviderKey(provider: "openai", id: "key_admin", kind: "admin_key", hint: "sk-admin-ADMI...9999", createdAt: now),
            ]
        }
        return (sync, api, store, raised)
    }

    func bucket(_ key: String, tokens: Int, hoursAgo: Double) -> ProviderUsageBucket {
        let start = hour.addingTimeInterval(-hoursAgo * 3600)
        return ProviderUsageBucket(start: start, end: start.addingTimeInterval(3600), keyID: key, inputTokens: tokens, outputTokens: 0)
    }

    func call(provider: String, tokens: Int, at time: Date) -> CallRecord {
        CallRecord(
            id: "req_" + UUID().uuidString, time: time, keyID: "key_v", keyName: "v", env: "prod", owner: nil, clientIP: "10.0.0.1",
            provider: provider, model: "gpt-4o", operation: .chat, stream: false, status: 200, outcome: .ok,
            usage: Usage(inputTokens: tokens, outputTokens: 0), cost: Money(nanos: 1), latencyMS: 1)
    }

    @Test func theInventorySeesWhichProviderKeysTheGatewayHolds() async throws {
        let (sync, _, _, _) = setup()
        let snapshots = await sync.syncAll(now: now)
        #expect(snapshots.map(\.status) == ["ok"])
        let assessed = Dictionary(try await sync.assessments(now: now).map { ($0.key.id, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(assessed["key_held"]?.heldAs == "env:OPENAI_API_KEY" && assessed["key_held"]?.flags == [])
        #expect(assessed["key_admin"]?.heldAs == "store:openai-admin")
        #expect(assessed["key_laptop"]?.heldAs == nil && assessed["key_laptop"]?.flags == ["unmanaged"])
    }

    @Test func useOfTheHeldKeyBeyondTheLogIsShadowUsageAndAnUnmanagedKeysUseIsReported() async throws {
        let (sync, api, store, raised) = setup()
        // Two hours ago: 40,000 tokens through the gateway (two providers share the credential), the
        // provider saw 40,500: within tolerance. An hour ago: 10,000 logged, 60,000 reported.
        try await store.append([
            call(provider: "openai", tokens: 30_000, at: hour.addingTimeInterval(-2 * 3600 + 60)),
            call(provider: "openai-eu", tokens: 10_000, at: hour.addingTimeInterval(-2 * 3600 + 120)),
            call(provider: "anthropic", tokens: 99_000, at: hour.addingTimeInterval(-3600 + 60)),
            call(provider: "openai", tokens: 10_000, at: hour.addingTimeInterval(-3600 + 60)),
        ])
        api.state.withLock { state in
            state.buckets = [
                bucket("key_held", tokens: 40_500, hoursAgo: 2), bucket("key_held", tokens: 60_000, hoursAgo: 1),
                bucket("key_laptop", tokens: 1_234, hoursAgo: 1), bucket("key_laptop", tokens: 66, hoursAgo: 2),
            ]
        }
        await sync.syncAll(now: now)
        let alerts = raised.all
        let shadow = alerts.filter { $0.type == .shadowUsage }
        #expect(shadow.count == 1 && shadow[0].severity == .critical)
        #expect(shadow[0].details["reported_tokens"] == "60000" && shadow[0].details["logged_tokens"] == "10000")
        #expect(shadow[0].onceKey == "shadow_usage|openai|key_held|\(Timestamp.format(hour.addingTimeInterval(-3600)))")
        let unmanaged = alerts.filter { $0.type == .unmanagedKeyUsed }
        #expect(unmanaged.count == 1 && unmanaged[0].details["tokens"] == "1300" && unmanaged[0].message.contains("bob@example.com"))
        // The next sync raises the same alerts with the same once-keys: the alert store keeps one.
        await sync.syncAll(now: now)
        #expect(raised.all.map(\.onceKey) == alerts.map(\.onceKey) + alerts.map(\.onceKey))
    }

    @Test func aRefusedAdminCredentialKeepsTheLastListAndSaysWhy() async throws {
        let (sync, api, store, raised) = setup()
        await sync.syncAll(now: now)
        api.state.withLock { $0.refuse = true }
        let snapshot = try #require(await sync.syncAll(now: now.addingTimeInterval(900)).first)
        await sync.syncAll(now: now.addingTimeInterval(1800))
        // One alert when it starts failing, not one per sync.
        #expect(raised.all.filter { $0.type == .providerSyncFailed }.map { $0.details["status"] } == ["refused"])
        #expect(snapshot.status == "refused" && snapshot.message?.contains("invalid x-api-key") == true)
        #expect(snapshot.keys.count == 3 && snapshot.syncedAt == now)
        #expect(try await store.providerKeySnapshots().first?.status == "refused")
    }

    @Test func onlyAKeyTheGatewayDoesNotHoldIsDisabledAndADryRunChangesNothing() async throws {
        let (sync, api, _, _) = setup()
        await sync.syncAll(now: now)
        await #expect(throws: GatewayError.self) { _ = try await sync.disable(id: "key_held", dryRun: false) }
        await #expect(throws: GatewayError.self) { _ = try await sync.disable(id: "key_missing", dryRun: false) }
        _ = try await sync.disable(id: "key_laptop", dryRun: true)
        #expect(api.state.withLock { $0.disabled }.isEmpty)
        let before = try await sync.disable(id: "key_laptop", dryRun: false)
        #expect(before.key.name == "bob-laptop" && api.state.withLock { $0.disabled } == ["key_laptop"])
        let after = try await sync.assessments(now: now).first { $0.key.id == "key_laptop" }
        #expect(after?.key.status == "inactive" && after?.flags == [])
        await #expect(throws: GatewayError.self) { _ = try await sync.disable(id: "key_laptop", dryRun: false) }
    }
}

/// What the second read of the provider key sync found: held credentials of other providers, secrets
/// that cannot be read, usage split by endpoint, keys gone from the list.
@Suite struct ProviderKeyMatchingTests {
    let now = Date(timeIntervalSince1970: 1_790_003_000)
    var hour: Date { Date(timeIntervalSince1970: Double(1_790_003_000 - 1_790_003_000 % 3600)) }
    static let held = "sk-proj-HELDabcdefghijklmnopqrstuvwxyz0123456789wxyz"
    static let other = "sk-proj-OTHERbcdefghijklmnopqrstuvwxyz012345678qrst"

    func sync(_ api: FakeAdminAPI, otherReadable: Bool = true, raised: ProviderKeySyncTests.Raised = .init()) -> ProviderKeySync {
        let target = ProviderAdminTarget(
            provider: "openai", api: api, held: .init(reference: "env:OPENAI_API_KEY") { Secret(Self.held) }, heldKeyID: nil,
            admin: .init(reference: "env:ADMIN") { Secret("sk-admin-ADMINsecretvalue9999") }, loggedProviders: ["openai"])
        // A second provider of the same organization, without an admin key of its own.
        let otherHeld = ProviderAdminTarget.Held(reference: "env:OPENAI_BATCH_KEY") {
            guard otherReadable else { throw CancellationError() }
            return Secret(Self.other)
        }
        return ProviderKeySync(
            targets: [target], allHeld: [target.held!, otherHeld], heldKeyIDs: ["key_pinned": "env:PINNED"], store: MemoryStore(),
            calls: MemoryStore(), maxAge: nil, logger: Logger(label: "test")
        ) { raised.add($0) }
    }

    func keys() -> [ProviderKey] {
        [
            ProviderKey(provider: "openai", id: "key_held", kind: "api_key", hint: "sk-proj-...wxyz", createdAt: now),
            ProviderKey(provider: "openai", id: "key_batch", kind: "api_key", hint: "sk-proj-...qrst", createdAt: now),
            ProviderKey(provider: "openai", id: "key_pinned", kind: "api_key", hint: "sk-proj-...zzzz", createdAt: now),
            ProviderKey(provider: "openai", id: "key_laptop", kind: "api_key", hint: "sk-proj-...0000", createdAt: now),
        ]
    }

    @Test func anotherProvidersCredentialAndAPinnedIDAreHeldToo() async throws {
        let api = FakeAdminAPI()
        api.state.withLock { $0.keys = keys() }
        let sync = sync(api)
        await sync.syncAll(now: now)
        let held = Dictionary(try await sync.assessments(now: now).map { ($0.key.id, $0.heldAs ?? "-") }, uniquingKeysWith: { a, _ in a })
        #expect(
            held == ["key_held": "env:OPENAI_API_KEY", "key_batch": "env:OPENAI_BATCH_KEY", "key_pinned": "env:PINNED", "key_laptop": "-"])
        await #expect(throws: GatewayError.self) { _ = try await sync.disable(id: "key_batch", dryRun: true) }
    }

    @Test func whenAHeldSecretCannotBeReadNothingIsCalledUnmanagedOrDisabled() async throws {
        let api = FakeAdminAPI()
        api.state.withLock { $0.keys = keys() }
        let sync = sync(api, otherReadable: false)
        await sync.syncAll(now: now)
        let flags = Dictionary(try await sync.assessments(now: now).map { ($0.key.id, $0.flags) }, uniquingKeysWith: { a, _ in a })
        #expect(flags["key_laptop"] == ["unverified"] && flags["key_batch"] == ["unverified"] && flags["key_held"] == [])
        await #expect(throws: GatewayError.self) { _ = try await sync.disable(id: "key_laptop", dryRun: false) }
        #expect(api.state.withLock { $0.disabled }.isEmpty)
    }

    @Test func anHoursUsageSplitOverEndpointsIsOneHourAndAKeyGoneFromTheListIsStillReported() async throws {
        let api = FakeAdminAPI()
        let raised = ProviderKeySyncTests.Raised()
        api.state.withLock { state in
            state.keys = keys()
            // Completions and embeddings, each under the 1,000-token tolerance, together over it.
            state.buckets = [
                ProviderUsageBucket(start: hour, end: hour.addingTimeInterval(3600), keyID: "key_held", inputTokens: 700, outputTokens: 0),
                ProviderUsageBucket(start: hour, end: hour.addingTimeInterval(3600), keyID: "key_held", inputTokens: 700, outputTokens: 0),
                ProviderUsageBucket(start: hour, end: hour.addingTimeInterval(3600), keyID: "key_deleted", inputTokens: 5, outputTokens: 5),
            ]
        }
        await sync(api, raised: raised).syncAll(now: now)
        let alerts = raised.all
        #expect(alerts.filter { $0.type == .shadowUsage }.map { $0.details["reported_tokens"] } == ["1400"])
        #expect(alerts.filter { $0.type == .unmanagedKeyUsed }.map { $0.details["provider_key_id"] } == ["key_deleted"])
        #expect(alerts.allSatisfy { $0.time <= Date() })
    }

    @Test func concurrentSyncsShareOneRead() async throws {
        let api = FakeAdminAPI()
        api.state.withLock { $0.keys = keys() }
        let sync = sync(api)
        async let first = sync.syncAll(now: now)
        async let second = sync.syncAll(now: now)
        let (a, b) = await (first, second)
        #expect(a == b)
    }
}
