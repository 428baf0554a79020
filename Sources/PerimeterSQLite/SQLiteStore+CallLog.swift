import Foundation
import GRDB
import PerimeterCore
import PerimeterStorage

extension SQLiteStore: CallLog {
    /// In the order ``append(_:)`` binds them; `id` first.
    static let callColumns = [
        "id", "time", "key_id", "key_name", "env", "owner", "client_ip", "provider", "model", "operation", "stream", "status",
        "outcome", "input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens", "cost_nanos", "latency_ms",
        "error_code", "key_generation", "usage_source",
    ]

    /// A record replaces a stored one only when that one is its placeholder (see ``CallLog/append(_:)``);
    /// otherwise a repeated id changes nothing, so a retried batch never duplicates or rewrites rows.
    public func append(_ records: [CallRecord]) async throws {
        guard !records.isEmpty else { return }
        try await pool.write { db in
            let statement = try db.cachedStatement(
                sql: """
                    INSERT INTO calls (\(Self.callColumns.joined(separator: ", ")))
                    VALUES (\(Self.callColumns.map { _ in "?" }.joined(separator: ", ")))
                    ON CONFLICT(id) DO UPDATE SET \(Self.callColumns.dropFirst().map { "\($0) = excluded.\($0)" }.joined(separator: ", "))
                    WHERE calls.outcome = 'in_flight' OR (calls.outcome = 'interrupted' AND excluded.outcome <> 'in_flight')
                    """)
            for record in records {
                try statement.execute(arguments: [
                    record.id, record.time.milliseconds, record.keyID, record.keyName, record.env, record.owner,
                    record.clientIP, record.provider, record.model, record.operation.rawValue, record.stream,
                    record.status, record.outcome.rawValue, record.usage.inputTokens, record.usage.cachedInputTokens,
                    record.usage.cacheWriteTokens, record.usage.outputTokens, record.cost?.nanos, record.latencyMS,
                    record.errorCode, record.keyGeneration, record.usageSource?.rawValue,
                ])
            }
        }
    }

    public func closeInFlight() async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "UPDATE calls SET outcome = 'interrupted', usage_source = 'reserved' WHERE outcome = 'in_flight'")
            return db.changesCount
        }
    }

    public func calls(matching query: CallQuery) async throws -> [CallRecord] {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        for (column, value) in [("key_id", query.keyID), ("env", query.env), ("model", query.model), ("outcome", query.outcome?.rawValue)] {
            guard let value else { continue }
            conditions.append("\(column) = ?")
            arguments += [value]
        }
        if let since = query.since {
            conditions.append("time >= ?")
            arguments += [since.milliseconds]
        }
        if let until = query.until {
            conditions.append("time < ?")
            arguments += [until.milliseconds]
        }
        if let after = query.after {
            // The first term bounds the index range; the second skips the page's own millisecond.
            conditions.append("time <= ? AND (time < ? OR id < ?)")
            arguments += [after.time, after.time, after.id]
        }
        arguments += [query.limit]
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql = "SELECT * FROM calls \(filter) ORDER BY time DESC, id DESC LIMIT ?"
        let boundArguments = arguments
        return try await pool.read { db in
            try Row.fetchAll(db, sql: sql, arguments: boundArguments).map(Self.callRecord)
        }
    }

    public func keySources() async throws -> [(keyID: String, address: String, firstSeen: Date)] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT key_id, client_ip, MIN(time) AS first FROM calls
                    WHERE key_id IS NOT NULL AND client_ip IS NOT NULL GROUP BY key_id, client_ip
                    """
            ).map { (keyID: $0["key_id"], address: $0["client_ip"], firstSeen: Date(milliseconds: $0["first"])) }
        }
    }

    /// Walks the (key_id, time, id) index: each key found by one seek past the last, then its latest
    /// call with an address by one more, so the cost follows the number of keys, not of calls.
    public func lastClientAddresses() async throws -> [String: String] {
        try await pool.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    WITH RECURSIVE logged(id) AS (
                        SELECT MIN(key_id) FROM calls
                        UNION ALL SELECT (SELECT MIN(key_id) FROM calls WHERE key_id > logged.id) FROM logged WHERE logged.id IS NOT NULL
                    )
                    SELECT id, (
                        SELECT client_ip FROM calls WHERE key_id = logged.id AND client_ip IS NOT NULL ORDER BY time DESC, id DESC LIMIT 1
                    ) AS address
                    FROM logged WHERE id IS NOT NULL
                    """)
            return Dictionary(
                rows.compactMap { row in (row["address"] as String?).map { (row["id"] as String, $0) } }, uniquingKeysWith: { a, _ in a })
        }
    }

    static func callRecord(_ row: Row) -> CallRecord {
        var record = CallRecord(
            id: row["id"], time: Date(milliseconds: row["time"]), keyID: row["key_id"], keyName: row["key_name"],
            env: row["env"], owner: row["owner"], clientIP: row["client_ip"], provider: row["provider"],
            model: row["model"], operation: CallOperation(rawValue: row["operation"]) ?? .chat, stream: row["stream"],
            status: row["status"], outcome: Outcome(rawValue: row["outcome"]) ?? .ok,
            usage: Usage(
                inputTokens: row["input_tokens"], cachedInputTokens: row["cached_input_tokens"],
                cacheWriteTokens: row["cache_write_tokens"], outputTokens: row["output_tokens"]),
            cost: (row["cost_nanos"] as Int64?).map(Money.init(nanos:)), latencyMS: row["latency_ms"],
            errorCode: row["error_code"])
        record.keyGeneration = row["key_generation"]
        record.usageSource = (row["usage_source"] as String?).flatMap(UsageSource.init(rawValue:))
        return record
    }
}

// MARK: - StoreExport

extension SQLiteStore: StoreExport {
    public func exportCalls(after id: String?, limit: Int) async throws -> [CallRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM calls WHERE id > ? ORDER BY id LIMIT ?", arguments: [id ?? "", limit])
                .map(Self.callRecord)
        }
    }

    public func exportSealedSecrets() async throws -> [SealedSecret] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM sealed_secrets ORDER BY name, version").map { row in
                SealedSecret(
                    name: row["name"], version: row["version"], createdAt: Date(milliseconds: row["created_at"]),
                    masterKeyID: row["master_key_id"], wrappedKey: [UInt8](row["wrapped_key"] as Data),
                    ciphertext: [UInt8](row["ciphertext"] as Data))
            }
        }
    }

    public func exportCounts() async throws -> [String: Int] {
        try await pool.read { db in
            var counts: [String: Int] = [:]
            for table in exportedTables {
                let name = table == "keys" ? "virtual_keys" : table
                counts[table] = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(name)") ?? 0
            }
            return counts
        }
    }
}
