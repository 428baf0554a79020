import Foundation
import PerimeterCore
import PerimeterSQLite
import PerimeterStorage
import Testing

@Suite struct RotationAuditConformanceTests {
    let t0 = Date(timeIntervalSince1970: 1_764_000_000)

    @Test(arguments: Backend.available)
    func rotationReplacesOnlyTheSecretAndRemembersTheOldOne(backend: Backend) async throws {
        let store = try await backend.makeStore()
        var (key, _) = VirtualKey.issue(name: "svc", env: "prod", owner: "team", now: t0)
        key.rotation = RotationSchedule(everySeconds: 86400, graceSeconds: 3600, deliverTo: "store:svc-key")
        try await store.insert(key)
        let secret = TokenFormat.makeVirtualKey(environment: "prod")
        let now = t0.addingTimeInterval(100)
        let rotated = try #require(try await store.rotate(id: key.id) { $0.rotated(to: secret, grace: .seconds(60), now: now) })
        #expect(rotated.generation == 2)
        #expect(rotated.digest == KeyDigest(of: secret))
        #expect(rotated.retiredSecrets.first?.digest == key.digest)
        #expect(rotated.retiredSecrets.first?.retiresAt == now.addingTimeInterval(60))
        let loaded = try #require(try await store.key(id: key.id))
        #expect(loaded == rotated)
        #expect(loaded.name == "svc" && loaded.policy == key.policy && loaded.rotation == key.rotation)
        #expect(loaded.rotatedAt == now)
        // A refusal inside the step changes nothing.
        struct Refused: Error {}
        await #expect(throws: Refused.self) { _ = try await store.rotate(id: key.id) { _ in throw Refused() } }
        #expect(try await store.key(id: key.id) == rotated)
        #expect(try await store.rotate(id: "key_missing") { $0 } == nil)
    }

    @Test(arguments: Backend.available)
    func theAuditLogKeepsEveryEntryNewestFirst(backend: Backend) async throws {
        let store = try await backend.makeStore()
        for index in 0..<3 {
            try await store.appendAudit(
                AuditEntry(
                    time: t0.addingTimeInterval(Double(index)), actor: "alice", actorID: "adm_1", address: "10.0.0.\(index)",
                    action: "key.create", target: "key_\(index)", details: #"{"n":\#(index)}"#))
        }
        let entries = try await store.auditEntries(since: nil, limit: 10)
        #expect(entries.map(\.target) == ["key_2", "key_1", "key_0"])
        #expect(entries.first?.details == #"{"n":2}"#)
        #expect(try await store.auditEntries(since: t0.addingTimeInterval(1), limit: 10).count == 2)
        #expect(try await store.auditEntries(since: nil, limit: 1).count == 1)
    }

    @Test func theSQLiteAuditLogRefusesChanges() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("perimeter-audit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("p.db").path
        let store = try SQLiteStore(path: path)
        try await store.appendAudit(AuditEntry(time: t0, actor: "a", actorID: nil, address: nil, action: "key.create", target: "k"))
        // The same file opened by anyone with SQLite cannot rewrite history.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('DELETE FROM audit_log'); c.commit()", path,
        ]
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        #expect(try await store.auditEntries(since: nil, limit: 10).count == 1)
    }

    @Test(arguments: Backend.available)
    func adminTokensCanBeRevoked(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let token = AdminToken(id: "adm_1", name: "ci", role: .viewer, digest: KeyDigest(of: "t"), createdAt: t0)
        try await store.insertAdminToken(token)
        let revoked = try await store.revokeAdminToken(id: "adm_1", at: t0.addingTimeInterval(5))
        #expect(revoked?.revokedAt == t0.addingTimeInterval(5))
        #expect(try await store.revokeAdminToken(id: "adm_1", at: t0.addingTimeInterval(9))?.revokedAt == t0.addingTimeInterval(5))
        #expect(try await store.revokeAdminToken(id: "adm_x", at: t0) == nil)
    }

    @Test(arguments: Backend.available)
    func findingsAreKeptOncePerSecretPathAndRule(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let finding = ReportedFinding(
            rule: "openai-project-key", provider: "openai", path: "app/.env", line: 3, commit: "abc1234", sha256: "ab12",
            managedKeyID: nil)
        #expect(try await store.recordFindings([finding, finding], at: t0) == 1)
        var moved = finding
        moved.path = "old/config.py"
        #expect(try await store.recordFindings([finding, moved], at: t0.addingTimeInterval(5)) == 1)
        let stored = try await store.reportedFindings()
        #expect(stored.map(\.path) == ["app/.env", "old/config.py"])
        #expect(stored.first?.reportedAt == t0 && stored.first?.line == 3 && stored.first?.commit == "abc1234")
        #expect(stored.allSatisfy { $0.owner == nil && $0.hostname == nil && $0.classification == nil })
    }

    @Test(arguments: Backend.available)
    func findingsFromPeoplesMachinesKeepTheirOwnerHostnameAndClassification(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let fromAlice = ReportedFinding(
            rule: "openai-api-key", provider: "OpenAI", path: "~/.zsh_history", line: 12, commit: nil, sha256: "cd34",
            managedKeyID: nil, owner: "alice", hostname: "alice-laptop", classification: "provider_key_held_by_gateway")
        var fromBob = fromAlice
        fromBob.owner = "bob"
        fromBob.hostname = "bob-desktop"
        fromBob.classification = "provider_key"
        var aliceElsewhere = fromAlice
        aliceElsewhere.hostname = "alice-workstation"
        var anonymous = fromAlice
        anonymous.owner = nil
        anonymous.hostname = nil
        anonymous.classification = nil
        // The same secret at the same path is one finding per owner and machine; a repeat is nothing new.
        #expect(try await store.recordFindings([fromAlice, fromBob, aliceElsewhere, anonymous, fromAlice], at: t0) == 4)
        #expect(try await store.recordFindings([fromBob], at: t0.addingTimeInterval(5)) == 0)
        let stored = try await store.reportedFindings()
        #expect(
            stored.map { [$0.owner ?? "-", $0.hostname ?? "-"] } == [
                ["-", "-"], ["alice", "alice-laptop"], ["alice", "alice-workstation"], ["bob", "bob-desktop"],
            ])
        #expect(
            stored.map { $0.classification ?? "-" } == [
                "-", "provider_key_held_by_gateway", "provider_key_held_by_gateway", "provider_key",
            ])
        #expect(stored.allSatisfy { $0.reportedAt == t0 && $0.line == 12 && $0.path == "~/.zsh_history" })
    }

    @Test(arguments: Backend.available)
    func theAlertOutboxDeliversEachAlertOncePerChannel(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let alert = Alert(
            type: .canaryUsed, severity: .critical, time: t0, keyID: "key_1", env: "prod", message: "canary used",
            details: ["client_ip": "10.0.0.9"])
        try await store.insertAlert(alert, channels: ["ops", "chat"], at: t0)
        let hold = t0.addingTimeInterval(60)
        var due = try await store.claimDueDeliveries(at: t0, limit: 10, until: hold)
        #expect(due.map(\.1.channel).sorted() == ["chat", "ops"])
        #expect(due.first?.0 == alert)
        // Claimed: no other dispatcher gets them meanwhile.
        #expect(try await store.claimDueDeliveries(at: t0, limit: 10, until: hold).isEmpty)
        try await store.markFailed(alertID: alert.id, channel: "ops", error: "refused", nextAttempt: t0.addingTimeInterval(4))
        try await store.markDelivered(alertID: alert.id, channel: "chat", at: t0.addingTimeInterval(1))
        due = try await store.claimDueDeliveries(at: t0.addingTimeInterval(2), limit: 10, until: hold)
        #expect(due.isEmpty)
        due = try await store.claimDueDeliveries(at: t0.addingTimeInterval(4), limit: 10, until: hold)
        #expect(due.map(\.1.channel) == ["ops"] && due.first?.1.attempts == 1 && due.first?.1.lastError == "refused")
        try await store.markDelivered(alertID: alert.id, channel: "ops", at: t0.addingTimeInterval(5))
        try await store.markDelivered(alertID: alert.id, channel: "ops", at: t0.addingTimeInterval(6))  // no effect
        #expect(try await store.claimDueDeliveries(at: t0.addingTimeInterval(100), limit: 10, until: hold).isEmpty)
        let history = try await store.alerts(since: nil, limit: 10)
        #expect(history.count == 1)
        #expect(history.first?.deliveries.map(\.deliveredAt) == [t0.addingTimeInterval(1), t0.addingTimeInterval(5)])
    }

    @Test(arguments: Backend.available)
    func aDeliveryWhoseClaimerDiedIsDueAgainAfterItsClaim(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let alert = Alert(type: .canaryUsed, severity: .critical, time: t0, keyID: nil, env: nil, message: "m")
        try await store.insertAlert(alert, channels: ["ops"], at: t0)
        #expect(try await store.claimDueDeliveries(at: t0, limit: 10, until: t0.addingTimeInterval(60)).count == 1)
        #expect(try await store.claimDueDeliveries(at: t0.addingTimeInterval(59), limit: 10, until: t0.addingTimeInterval(120)).isEmpty)
        #expect(try await store.claimDueDeliveries(at: t0.addingTimeInterval(60), limit: 10, until: t0.addingTimeInterval(120)).count == 1)
    }

    @Test(arguments: Backend.available)
    func anAlertWithAOnceKeyIsStoredOnce(backend: Backend) async throws {
        let store = try await backend.makeStore()
        func threshold() -> Alert {
            Alert(
                type: .budgetThreshold, severity: .warning, time: t0, keyID: "key_1", env: "prod", message: "80 %",
                onceKey: "budget_threshold|key:key_1|month|2025-11-01T00:00:00Z|0.8")
        }
        let first = threshold()
        #expect(try await store.insertAlert(first, channels: ["ops"], at: t0))
        #expect(try await !store.insertAlert(threshold(), channels: ["ops"], at: t0))
        // Alerts without one are all kept.
        for _ in 0..<2 {
            #expect(
                try await store.insertAlert(
                    Alert(type: .canaryUsed, severity: .critical, time: t0, keyID: nil, env: nil, message: "c"), channels: [], at: t0))
        }
        let stored = try await store.alerts(since: nil, limit: 10)
        #expect(stored.count == 3)
        #expect(stored.filter { $0.alert.type == .budgetThreshold }.map(\.alert) == [first])
        #expect(try await store.claimDueDeliveries(at: t0, limit: 10, until: t0.addingTimeInterval(60)).map(\.0.id) == [first.id])
    }
}
