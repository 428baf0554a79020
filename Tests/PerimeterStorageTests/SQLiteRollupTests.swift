import Foundation
import GRDB
import PerimeterCore
import PerimeterStorage
import Testing

@testable import PerimeterSQLite

/// SQLite's hourly and daily rollups equal the log whatever writes it: the store's own appends (the
/// conformance suites), rows rewritten or deleted behind its back (an operator's UPDATE, a retention
/// job's DELETE), and a database that already held calls when the rollups' migration ran.
@Suite struct SQLiteRollupTests {
    static func path() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("perimeter-rollup-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.appendingPathComponent("perimeter.db").path
    }

    /// The spend suite's calls: finished, placeholders replaced, closed as interrupted, then replaced.
    static func load(_ store: SQLiteStore) async throws {
        try await store.append((0..<200).map { SpendWindowConformanceTests.call($0) })
        try await store.append((200..<260).map { SpendWindowConformanceTests.call($0, outcome: .inFlight, cost: 5) })
        try await store.append((200..<230).map { SpendWindowConformanceTests.call($0, outcome: .clientCancelled) })
        _ = try await store.closeInFlight()
        try await store.append((230..<245).map { SpendWindowConformanceTests.call($0) })
    }

    /// Every window the rollups answer, by every grouping, equals the same question put to the log's rows.
    static func expectEqualToTheLog(_ store: SQLiteStore) async throws {
        let logged = try await store.calls(matching: CallQuery(limit: 10_000))
        let reference = MemoryStore()
        try await reference.append(logged)
        let t0 = SpendWindowConformanceTests.t0
        let edges: [Date?] = [nil] + [-1, 0, 0.5, 13, 29.9, 31, 60].map { t0.addingTimeInterval($0 * 3600) }
        for since in edges {
            for until in edges where since == nil || until == nil || since! < until! {
                for grouping in SpendGrouping.allCases {
                    let query = SpendQuery(groupBy: grouping, since: since, until: until)
                    #expect(try await store.spend(query) == (try await reference.spend(query)), "\(grouping) \(String(describing: since))")
                }
                guard let since, let until else { continue }
                for bucket in [SeriesBucket.hour, .day] {
                    let query = SpendSeriesQuery(bucket: bucket, groupBy: .key, since: since, until: until)
                    #expect(try await store.spendSeries(query) == query.series(of: logged), "\(bucket) \(since) ..< \(until)")
                }
            }
        }
        // And the tables themselves, row by row: no rollup row without calls in the log, none missing.
        let mismatches = try await store.pool.read { db in
            try ["spend_hourly": "hour", "spend_daily": "day"].map { table, start in
                let width = table == "spend_daily" ? 86_400_000 : 3_600_000
                return try Int.fetchOne(
                    db,
                    sql: """
                        SELECT COUNT(*) FROM (
                            SELECT \(start) AS at, key_id, env, model, owner, provider, calls, denied, cost_nanos FROM \(table) WHERE calls <> 0
                            EXCEPT
                            SELECT (time / \(width)) * \(width), COALESCE(key_id, ''), COALESCE(env, ''), COALESCE(model, ''),
                                   COALESCE(owner, ''), COALESCE(provider, ''), COUNT(*), SUM(outcome = 'denied'), COALESCE(SUM(cost_nanos), 0)
                            FROM calls WHERE outcome <> 'in_flight' GROUP BY 1, 2, 3, 4, 5, 6
                        )
                        """) ?? -1
            }
        }
        #expect(mismatches == [0, 0])
    }

    @Test func rowsRewrittenOrDeletedByHandLeaveTheRollupsEqualToTheLog() async throws {
        let path = try Self.path()
        let store = try SQLiteStore(path: path)
        try await Self.load(store)
        let before = try await store.spend(SpendQuery(groupBy: .env))
        // Behind the store's back: finished, interrupted and in-flight rows deleted; costs, keys and
        // times rewritten (a call moved to another hour and day); a placeholder closed by hand.
        let other = try DatabaseQueue(path: path)
        try await other.write { db in
            try db.execute(sql: "DELETE FROM calls WHERE id IN ('req_3', 'req_4', 'req_250', 'req_251', 'req_5')")
            try db.execute(sql: "UPDATE calls SET cost_nanos = cost_nanos * 3, key_id = 'key_9' WHERE id IN ('req_10', 'req_20')")
            try db.execute(sql: "UPDATE calls SET time = time + 86400000 + 1800000 WHERE id = 'req_30'")
            try db.execute(sql: "UPDATE calls SET outcome = 'ok' WHERE outcome = 'interrupted' AND id = 'req_252'")
        }
        try other.close()
        #expect(try await store.spend(SpendQuery(groupBy: .env)) != before)
        try await Self.expectEqualToTheLog(store)
        // Every call gone: nothing left in any window.
        let emptied = try DatabaseQueue(path: path)
        try await emptied.write { db in try db.execute(sql: "DELETE FROM calls") }
        try emptied.close()
        #expect(try await store.spend(SpendQuery(groupBy: .key)).isEmpty)
    }

    @Test func theMigrationRollsUpTheCallsAlreadyLogged() async throws {
        let path = try Self.path()
        // A database as the previous release left it, with calls in it ...
        let queue = try DatabaseQueue(path: path)
        try SQLiteStore.migrator.migrate(queue, upTo: "v12-call-pages")
        try queue.close()
        let old = try DatabasePool(path: path)
        let rows = (0..<200).map { SpendWindowConformanceTests.call($0) } + [SpendWindowConformanceTests.call(200, outcome: .inFlight)]
        try await old.write { db in
            for record in rows {
                try db.execute(
                    sql: """
                        INSERT INTO calls (id, time, key_id, key_name, env, owner, client_ip, provider, model, operation, stream, status,
                                           outcome, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, cost_nanos, latency_ms)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'chat', 0, 200, ?, ?, ?, 0, ?, ?, 10)
                        """,
                    arguments: [
                        record.id, record.time.milliseconds, record.keyID, record.keyName, record.env, record.owner, record.clientIP,
                        record.provider, record.model, record.outcome.rawValue, record.usage.inputTokens,
                        record.usage.cachedInputTokens, record.usage.outputTokens, record.cost?.nanos,
                    ])
            }
        }
        try old.close()
        // ... opened by this one: the rollups start from those calls, and later ones are added.
        let store = try SQLiteStore(path: path)
        #expect(try await store.spend(SpendQuery(groupBy: .env)).reduce(0) { $0 + $1.calls } == 200)
        try await store.append([SpendWindowConformanceTests.call(200)] + (201..<220).map { SpendWindowConformanceTests.call($0) })
        try await Self.expectEqualToTheLog(store)
    }
}
