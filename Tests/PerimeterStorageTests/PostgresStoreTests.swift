import Foundation
import Logging
import PerimeterCore
import PerimeterPostgres
import PerimeterStorage
import PostgresNIO
import Testing

/// What only the PostgreSQL backend has: migrations under an advisory lock, the database's own
/// refusal to change the audit log, and its address's rules. Skipped unless `POSTGRES_URL` is set.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["POSTGRES_URL"]?.isEmpty == false))
struct PostgresStoreTests {
    @Test func instancesStartingTogetherMigrateOnce() async throws {
        let configuration = try await PostgresTestServer.freshDatabase("perimeter_migrate_")
        let stores = try await withThrowingTaskGroup(of: PostgresStore.self) { group in
            for _ in 0..<4 { group.addTask { try await PostgresStore(configuration: configuration, logger: Logger(label: "t")) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(
            try await stores[0].appliedMigrations() == [
                "0001-initial", "0002-budget-leases", "0003-rotation-replays", "0004-shared-limits",
                "0005-spend-rollup", "0006-provider-keys", "0007-finding-owners", "0008-console-reads", "0009-spend-daily",
            ])
        for store in stores { await store.close() }
    }

    /// The rollup migration copies the calls already logged, and the triggers follow deletes.
    @Test func theSpendRollupStartsFromTheLogAndFollowsDeletes() async throws {
        let configuration = try await PostgresTestServer.freshDatabase("perimeter_rollup_")
        let store = try await PostgresStore(configuration: configuration, logger: Logger(label: "t"))
        let calls = (0..<50).map { SpendWindowConformanceTests.call($0) }
        try await store.append(calls)
        // As an installation from before the rollup: no table, no triggers, the migration not applied.
        for statement in [
            "DROP TABLE spend_hourly", "DROP FUNCTION spend_hourly_add, spend_hourly_remove, spend_hourly_change CASCADE",
            "DROP TABLE spend_daily", "DROP FUNCTION spend_daily_add, spend_daily_remove, spend_daily_change CASCADE",
            "DELETE FROM perimeter_migrations WHERE name IN ('0005-spend-rollup', '0009-spend-daily')",
        ] {
            try await store.execute(statement)
        }
        await store.close()
        let reopened = try await PostgresStore(configuration: configuration, logger: Logger(label: "t"))
        let reference = MemoryStore()
        try await reference.append(calls)
        let since = SpendWindowConformanceTests.t0.addingTimeInterval(-3600)
        // Both rollups start from the log: whole days (spend_daily, filled from spend_hourly) and hours.
        for since in [since, nil] {
            for grouping in SpendGrouping.allCases {
                let query = SpendQuery(groupBy: grouping, since: since)
                #expect(try await reopened.spend(query) == (try await reference.spend(query)))
            }
        }
        try await reopened.execute("DELETE FROM calls WHERE id IN ('req_1', 'req_2')")
        for since in [since, nil] {
            let left = try await reopened.spend(SpendQuery(groupBy: .env, since: since))
            #expect(left.reduce(0) { $0 + $1.calls } == 48)
        }
        await reopened.close()
    }

    @Test func aClusterLockRunsItsWorkOnOneInstanceAtATime() async throws {
        let a = try await PostgresTestServer.freshStore()
        let inside = AsyncStream<Void>.makeStream()
        let leave = AsyncStream<Void>.makeStream()
        let holder = Task {
            try await a.ifFree(7) {
                inside.continuation.yield()
                for await _ in leave.stream { break }
                return "a"
            }
        }
        for await _ in inside.stream { break }
        // Another session (as another instance would) is turned away while the lock is held ...
        #expect(try await a.ifFree(7) { "b" } == nil)
        leave.continuation.yield()
        #expect(try await holder.value == "a")
        // ... and gets it once it is let go, also after the body threw.
        await #expect(throws: CancellationError.self) { _ = try await a.ifFree(7) { () -> String in throw CancellationError() } }
        #expect(try await a.ifFree(7) { "c" } == "c")
        await a.close()
    }

    @Test func theDatabaseRefusesToChangeTheAuditLog() async throws {
        let store = try await PostgresTestServer.freshStore()
        try await store.appendAudit(
            AuditEntry(time: Date(), actor: "a", actorID: nil, address: nil, action: "key.create", target: "k"))
        for statement in ["UPDATE audit_log SET actor = 'b'", "DELETE FROM audit_log", "TRUNCATE audit_log"] {
            await #expect(throws: PSQLError.self) { try await store.execute(statement) }
        }
        #expect(try await store.auditEntries(since: nil, limit: 10).map(\.actor) == ["a"])
        await store.close()
    }

    @Test func addressesKeepPasswordsOut() throws {
        let location = try PostgresLocation.parse("postgres://app@db.internal:6432/perimeter?sslmode=verify-full&sslrootcert=/ca.pem").get()
        #expect(location.user == "app" && location.host == "db.internal" && location.port == 6432 && location.database == "perimeter")
        #expect(location.tls == .verifyFull && location.rootCertificate == "/ca.pem")
        #expect(location.description == "postgres://app@db.internal:6432/perimeter?sslmode=verify-full&sslrootcert=/ca.pem")
        for bad in [
            "postgres://app:hunter2@db/perimeter", "mysql://app@db/x", "postgres://db/perimeter", "postgres://app@db/",
            "postgres://app@db/p?sslmode=maybe", "postgres://app@db/p?password=x",
        ] {
            #expect(throws: PostgresLocationError.self) { try PostgresLocation.parse(bad).get() }
        }
    }
}
