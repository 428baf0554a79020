import Foundation
import PerimeterCore
import PerimeterSQLite
import PerimeterStorage
import Testing

/// One suite, every backend: what the gateway may assume of any store.
@Suite struct StoreConformanceTests {
    static let t0 = Date(timeIntervalSince1970: 1_764_000_000)

    func key(_ name: String, env: String = "dev", owner: String? = "team-a", at offset: TimeInterval = 0) -> VirtualKey {
        VirtualKey.issue(name: name, env: env, owner: owner, now: Self.t0.addingTimeInterval(offset)).0
    }

    func call(
        _ id: String, key: VirtualKey?, model: String = "gpt-4o-mini", at offset: TimeInterval, input: Int = 10, output: Int = 5,
        cost: Money? = Money(nanos: 1000)
    ) -> CallRecord {
        CallRecord(
            id: id, time: Self.t0.addingTimeInterval(offset), keyID: key?.id, keyName: key?.name, env: key?.env,
            owner: key?.owner, clientIP: "10.0.0.1", provider: "openai", model: model, operation: .chat, stream: false,
            status: 200, outcome: .ok, usage: Usage(inputTokens: input, cachedInputTokens: 2, outputTokens: output),
            cost: cost, latencyMS: 42)
    }

    @Test(arguments: Backend.available)
    func keysRoundTripWithEveryField(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let original = key("billing")
        try await store.insert(original)
        let loaded = try #require(try await store.key(id: original.id))
        #expect(loaded == original)
        #expect(try await store.key(id: "key_missing") == nil)
    }

    @Test(arguments: Backend.available)
    func listsKeysOldestFirstAndFiltersByEnvironment(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let a = key("a", env: "prod", at: 0)
        let b = key("b", env: "dev", at: 1)
        let c = key("c", env: "prod", owner: nil, at: 2)
        for k in [b, a, c] { try await store.insert(k) }
        #expect(try await store.keys(env: nil).map(\.name) == ["a", "b", "c"])
        #expect(try await store.keys(env: "prod").map(\.name) == ["a", "c"])
        #expect(try await store.keys(env: "staging").isEmpty)
    }

    @Test(arguments: Backend.available)
    func refusesDuplicateIDsAndSecrets(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let original = key("a")
        try await store.insert(original)
        var sameID = key("b")
        sameID.id = original.id
        await #expect(throws: StoreConflict.self) { try await store.insert(sameID) }
        var sameSecret = key("c")
        sameSecret.digest = original.digest
        await #expect(throws: StoreConflict.self) { try await store.insert(sameSecret) }
    }

    @Test(arguments: Backend.available)
    func revocationIsFirstWinsAndKeepsTheRecord(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let k = key("a")
        try await store.insert(k)
        let first = try #require(try await store.revoke(id: k.id, at: Self.t0.addingTimeInterval(10)))
        #expect(first.revokedAt == Self.t0.addingTimeInterval(10))
        let again = try #require(try await store.revoke(id: k.id, at: Self.t0.addingTimeInterval(20)))
        #expect(again.revokedAt == Self.t0.addingTimeInterval(10))
        #expect(try await store.keys(env: nil).count == 1)
        #expect(try await store.revoke(id: "key_missing", at: Self.t0) == nil)
    }

    @Test(arguments: Backend.available)
    func updatesChangePolicyAndNamesButNeverIdentity(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let policy = KeyPolicy(
            budget: Budget(limit: Money(usd: 12.5), period: .week), requestsPerMinute: 60, tokensPerMinute: 90_000,
            allowedIPs: [CIDR("10.0.0.0/8")!, CIDR("2001:db8::/32")!], allowedModels: [ModelPattern("gpt-4o*")],
            allowedOperations: [.chat, .embeddings], tools: .only(["lookup"]), expiresAt: Self.t0.addingTimeInterval(86400))
        let (original, _) = VirtualKey.issue(name: "a", env: "prod", owner: nil, policy: policy, now: Self.t0)
        try await store.insert(original)
        #expect(try await store.key(id: original.id)?.policy == policy)
        let updated = try #require(
            try await store.update(id: original.id) { key in
                key.name = "renamed"
                key.owner = "team-b"
                key.policy.tools = .denied
                key.id = "key_hijacked"
                key.env = "dev"
            })
        #expect(updated.name == "renamed" && updated.owner == "team-b" && updated.policy.tools == .denied)
        #expect(updated.id == original.id && updated.env == "prod" && updated.digest == original.digest)
        #expect(try await store.key(id: original.id) == updated)
        #expect(try await store.update(id: "key_missing") { _ in } == nil)
    }

    @Test(arguments: Backend.available)
    func lastUseOnlyMovesForward(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let k = key("a")
        try await store.insert(k)
        try await store.recordUse([k.id: Self.t0.addingTimeInterval(100), "key_unknown": Self.t0])
        try await store.recordUse([k.id: Self.t0.addingTimeInterval(50)])
        #expect(try await store.key(id: k.id)?.lastUsedAt == Self.t0.addingTimeInterval(100))
    }

    @Test(arguments: Backend.available)
    func adminTokensRoundTrip(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let token = AdminToken(
            id: "adm_1", name: "initial", role: .viewer, digest: KeyDigest(of: "prmadm_x"), createdAt: Self.t0)
        try await store.insertAdminToken(token)
        #expect(try await store.adminTokens() == [token])
    }

    @Test(arguments: Backend.available)
    func callsRoundTripNewestFirstAndFilter(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let a = key("a", env: "prod")
        let b = key("b", env: "dev")
        let records = [
            call("req_1", key: a, at: 1), call("req_2", key: b, at: 2), call("req_3", key: a, at: 3, cost: nil),
            call("req_4", key: nil, at: 4),
        ]
        try await store.append(records)
        let all = try await store.calls(matching: CallQuery())
        #expect(all.map(\.id) == ["req_4", "req_3", "req_2", "req_1"])
        #expect(all.last == records[0])
        #expect(all[1].cost == nil)
        #expect(try await store.calls(matching: CallQuery(keyID: a.id)).map(\.id) == ["req_3", "req_1"])
        #expect(try await store.calls(matching: CallQuery(env: "dev")).map(\.id) == ["req_2"])
        #expect(try await store.calls(matching: CallQuery(since: Self.t0.addingTimeInterval(2))).map(\.id) == ["req_4", "req_3", "req_2"])
        #expect(try await store.calls(matching: CallQuery(limit: 2)).map(\.id) == ["req_4", "req_3"])
    }

    @Test(arguments: Backend.available)
    func whereUsageCameFromRoundTrips(backend: Backend) async throws {
        let store = try await backend.makeStore()
        var reported = call("req_p", key: nil, at: 1)
        reported.usageSource = .provider
        var estimated = call("req_e", key: nil, at: 2)
        estimated.usageSource = .estimated
        let never = call("req_n", key: nil, at: 3)
        try await store.append([reported, estimated, never])
        let byID = Dictionary(uniqueKeysWithValues: try await store.calls(matching: CallQuery()).map { ($0.id, $0) })
        #expect(byID["req_p"] == reported && byID["req_e"] == estimated && byID["req_n"] == never)
        #expect(byID["req_n"]?.usageSource == nil)
    }

    /// A budgeted call's `in_flight` row: left out of spend while under way, replaced by the final row,
    /// and, when a crash leaves it, charged its reserved cost as `interrupted`.
    @Test(arguments: Backend.available)
    func inFlightRowsAreReplacedOrChargedAfterACrash(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let a = key("a", env: "prod")
        func placeholder(_ id: String) -> CallRecord {
            var record = call(id, key: a, at: 1, input: 900, output: 4000, cost: Money(nanos: 5_000_000))
            record.outcome = .inFlight
            record.usageSource = .reserved
            return record
        }
        try await store.append([placeholder("req_done"), placeholder("req_lost")])
        #expect(try await store.spend(SpendQuery(groupBy: .key)).first?.cost ?? .zero == .zero)
        var final = call("req_done", key: a, at: 1, cost: Money(nanos: 1000))
        final.usageSource = .provider
        try await store.append([final])
        // A retried batch holding the placeholder again changes nothing.
        try await store.append([placeholder("req_done")])
        #expect(try await store.closeInFlight() == 1)
        #expect(try await store.closeInFlight() == 0)
        let byID = Dictionary(uniqueKeysWithValues: try await store.calls(matching: CallQuery()).map { ($0.id, $0) })
        #expect(byID["req_done"] == final)
        #expect(byID["req_lost"]?.outcome == .interrupted && byID["req_lost"]?.usageSource == .reserved)
        // Its placeholder again changes nothing; a final record that comes after all (the instance was
        // cut off from the database, not dead) replaces it.
        try await store.append([placeholder("req_lost")])
        #expect(try await store.calls(matching: CallQuery()).first { $0.id == "req_lost" }?.outcome == .interrupted)
        var late = call("req_lost", key: a, at: 1, cost: Money(nanos: 2000))
        late.usageSource = .provider
        try await store.append([late])
        #expect(try await store.calls(matching: CallQuery()).first { $0.id == "req_lost" } == late)
        try await store.append([placeholder("req_lost")])
        #expect(try await store.calls(matching: CallQuery()).first { $0.id == "req_lost" } == late)
        try await store.append([placeholder("req_lost_2")])
        _ = try await store.closeInFlight()
        let spend = try await store.spend(SpendQuery(groupBy: .key))
        #expect(spend.first?.cost == Money(nanos: 5_003_000) && spend.first?.calls == 3)
    }

    /// While the database was away a call's placeholder and its final record wait in one batch: the
    /// final one is what is stored, and a later repeat of either changes nothing.
    @Test(arguments: Backend.available)
    func aPlaceholderAndItsFinalRecordInOneBatchLeaveTheFinalRow(backend: Backend) async throws {
        let store = try await backend.makeStore()
        var placeholder = call("req_1", key: nil, at: 0, cost: Money(nanos: 9_000))
        placeholder.outcome = .inFlight
        placeholder.usageSource = .reserved
        let final = call("req_1", key: nil, at: 0, cost: Money(nanos: 700))
        try await store.append([placeholder, call("req_2", key: nil, at: 1), final, call("req_2", key: nil, at: 1)])
        try await store.append([placeholder, final])
        let stored = try await store.calls(matching: CallQuery())
        #expect(stored.count == 2)
        #expect(stored.first { $0.id == "req_1" } == final)
    }

    @Test(arguments: Backend.available)
    func appendingTheSameCallTwiceKeepsOneRow(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let record = call("req_1", key: nil, at: 0)
        try await store.append([record])
        try await store.append([record, call("req_2", key: nil, at: 1)])
        #expect(try await store.calls(matching: CallQuery()).count == 2)
    }

    @Test(arguments: Backend.available)
    func spendGroupsAndRanks(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let a = key("a", env: "prod", owner: "alice")
        let b = key("b", env: "dev", owner: nil)
        try await store.append([
            call("req_1", key: a, model: "gpt-4o", at: 1, cost: Money(nanos: 500)),
            call("req_2", key: a, model: "gpt-4o-mini", at: 2, cost: Money(nanos: 700)),
            call("req_3", key: b, model: "gpt-4o", at: 3, cost: Money(nanos: 300)),
            call("req_4", key: b, model: "my-model", at: 4, cost: nil),
        ])
        let byKey = try await store.spend(SpendQuery(groupBy: .key))
        #expect(
            byKey == [
                SpendRow(group: a.id, calls: 2, inputTokens: 20, cachedInputTokens: 4, outputTokens: 10, cost: Money(nanos: 1200)),
                SpendRow(
                    group: b.id, calls: 2, inputTokens: 20, cachedInputTokens: 4, outputTokens: 10, cost: Money(nanos: 300),
                    unpricedCalls: 1),
            ])
        let byModel = try await store.spend(SpendQuery(groupBy: .model))
        #expect(byModel.map(\.group) == ["gpt-4o", "gpt-4o-mini", "my-model"])
        #expect(byModel[0].cost == Money(nanos: 800))
        let byOwner = try await store.spend(SpendQuery(groupBy: .owner))
        #expect(Set(byOwner.map(\.group)) == ["alice", ""])
        let byEnvRecent = try await store.spend(SpendQuery(groupBy: .env, since: Self.t0.addingTimeInterval(3)))
        #expect(
            byEnvRecent == [
                SpendRow(
                    group: "dev", calls: 2, inputTokens: 20, cachedInputTokens: 4, outputTokens: 10, cost: Money(nanos: 300),
                    unpricedCalls: 1)
            ])
    }

    @Test(arguments: Backend.available)
    func concurrentAppendsLoseNothing(backend: Backend) async throws {
        let store = try await backend.makeStore()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for batch in 0..<20 {
                group.addTask {
                    try await store.append((0..<50).map { self.call("req_\(batch)_\($0)", key: nil, at: Double($0)) })
                }
            }
            try await group.waitForAll()
        }
        #expect(try await store.calls(matching: CallQuery(limit: 5000)).count == 1000)
    }
}

@Suite struct SQLiteStoreTests {
    @Test func reopeningKeepsDataAndUsesWAL() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("perimeter-wal-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("p.db").path
        let (k, _) = VirtualKey.issue(name: "a", env: "dev", owner: nil, now: Date(timeIntervalSince1970: 1_764_000_000))
        do {
            let store = try SQLiteStore(path: path)
            try await store.insert(k)
        }
        let reopened = try SQLiteStore(path: path)
        #expect(try await reopened.key(id: k.id) == k)
        let mode = try await reopened.journalMode()
        #expect(mode == "wal")
    }
}
