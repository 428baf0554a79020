import Foundation
import PerimeterCore
import PerimeterStorage
import PostgresNIO

extension PostgresStore: CallLog {
    /// Rows per INSERT: 23 parameters each stays far below PostgreSQL's 65,535 per statement.
    static let rowsPerInsert = 1000

    /// One multi-row INSERT per thousand records, in one transaction. A record replaces a stored one
    /// only when that one is `in_flight` (the call's own placeholder); otherwise a repeated id changes
    /// nothing, so a retried batch never duplicates or rewrites rows.
    public func append(_ records: [CallRecord]) async throws {
        guard !records.isEmpty else { return }
        let records = Self.oneRowPerCall(records)
        try await transaction { [self] connection in
            for start in stride(from: 0, to: records.count, by: Self.rowsPerInsert) {
                let slice = records[start..<min(start + Self.rowsPerInsert, records.count)]
                try await connection.query(Self.insert(slice, instance: instance), logger: logger)
            }
        }
    }

    /// One record per call id, as appending them one by one would leave it: a later record replaces an
    /// earlier `in_flight` one (its placeholder, when both waited in one batch while the database was
    /// away), otherwise the first stays. PostgreSQL refuses a statement that upserts one row twice.
    static func oneRowPerCall(_ records: [CallRecord]) -> [CallRecord] {
        var index: [String: Int] = [:]
        var kept: [CallRecord] = []
        kept.reserveCapacity(records.count)
        for record in records {
            if let position = index[record.id] {
                if kept[position].isReplaced(by: record) { kept[position] = record }
            } else {
                index[record.id] = kept.count
                kept.append(record)
            }
        }
        return kept
    }

    static let callColumns = [
        "id", "time", "key_id", "key_name", "env", "owner", "client_ip", "provider", "model", "operation", "stream", "status",
        "outcome", "input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens", "cost_nanos", "latency_ms",
        "error_code", "key_generation", "usage_source", "instance",
    ]

    /// The statement inserting `records`, each marked as written by `instance`.
    static func insert(_ records: ArraySlice<CallRecord>, instance: String) -> PostgresQuery {
        var bindings = PostgresBindings(capacity: records.count * callColumns.count)
        var rows: [String] = []
        rows.reserveCapacity(records.count)
        for record in records {
            let first = bindings.count + 1
            bindings.append(record.id)
            bindings.append(record.time.milliseconds)
            bindings.append(record.keyID)
            bindings.append(record.keyName)
            bindings.append(record.env)
            bindings.append(record.owner)
            bindings.append(record.clientIP)
            bindings.append(record.provider)
            bindings.append(record.model)
            bindings.append(record.operation.rawValue)
            bindings.append(record.stream)
            bindings.append(record.status)
            bindings.append(record.outcome.rawValue)
            bindings.append(record.usage.inputTokens)
            bindings.append(record.usage.cachedInputTokens)
            bindings.append(record.usage.cacheWriteTokens)
            bindings.append(record.usage.outputTokens)
            bindings.append(record.cost?.nanos)
            bindings.append(record.latencyMS)
            bindings.append(record.errorCode)
            bindings.append(record.keyGeneration)
            bindings.append(record.usageSource?.rawValue)
            bindings.append(instance)
            rows.append("(" + (first..<(first + callColumns.count)).map { "$\($0)" }.joined(separator: ", ") + ")")
        }
        let sql = """
            INSERT INTO calls (\(callColumns.joined(separator: ", "))) VALUES \(rows.joined(separator: ", "))
            ON CONFLICT (id) DO UPDATE SET \(callColumns.dropFirst().map { "\($0) = excluded.\($0)" }.joined(separator: ", "))
            WHERE calls.outcome = 'in_flight' OR (calls.outcome = 'interrupted' AND excluded.outcome <> 'in_flight')
            """
        return PostgresQuery(unsafeSQL: sql, binds: bindings)
    }

    /// Closes the in_flight rows of instances no longer alive (not seen within `instanceTimeout`), never
    /// those of another instance still running.
    public func closeInFlight() async throws -> Int {
        var closed = 0
        let liveSince = Date().addingTimeInterval(-instanceTimeout).milliseconds
        let rows = try await client.query(
            """
            UPDATE calls SET outcome = 'interrupted', usage_source = 'reserved'
            WHERE outcome = 'in_flight'
              AND (instance IS NULL OR instance NOT IN (SELECT id FROM gateway_instances WHERE seen_at >= \(liveSince)))
            RETURNING id
            """,
            logger: logger)
        for try await _ in rows { closed += 1 }
        return closed
    }

    public func calls(matching query: CallQuery) async throws -> [CallRecord] {
        var bindings = PostgresBindings()
        var conditions = Self.callConditions(
            equal: [("key_id", query.keyID), ("env", query.env), ("model", query.model), ("outcome", query.outcome?.rawValue)],
            since: query.since, until: query.until, bindings: &bindings)
        if let after = query.after {
            bindings.append(after.time)
            bindings.append(after.id)
            conditions.append("(time, id) < ($\(bindings.count - 1), $\(bindings.count))")
        }
        bindings.append(query.limit)
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql = "SELECT * FROM calls \(filter) ORDER BY time DESC, id DESC LIMIT $\(bindings.count)"
        var records: [CallRecord] = []
        for try await row in try await client.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger) {
            records.append(try Self.callRecord(row.makeRandomAccess()))
        }
        return records
    }

    /// `column = value` for each value given and the window's bounds on `time`, bound in `bindings`.
    static func callConditions(
        equal: [(column: String, value: String?)], since: Date?, until: Date?, bindings: inout PostgresBindings
    ) -> [String] {
        var conditions: [String] = []
        for (column, value) in equal {
            guard let value else { continue }
            bindings.append(value)
            conditions.append("\(column) = $\(bindings.count)")
        }
        for (operation, value) in [(">=", since), ("<", until)] {
            guard let value else { continue }
            bindings.append(value.milliseconds)
            conditions.append("time \(operation) $\(bindings.count)")
        }
        return conditions
    }

    /// Whole hours come from the rollup the triggers keep (``SpendRollup``), the window's cut hours from the log.
    public func spend(_ query: SpendQuery) async throws -> [SpendRow] {
        let sql = Self.windowSpend(groupBy: query.groupBy.column, since: query.since, until: query.until)
        var rows: [SpendRow] = []
        for try await row in try await client.query(sql, logger: logger) {
            let row = row.makeRandomAccess()
            rows.append(
                SpendRow(
                    group: try row.value("grp"), calls: try row.value("calls"), inputTokens: try row.value("input"),
                    cachedInputTokens: try row.value("cached"), outputTokens: try row.value("output"),
                    cost: Money(nanos: try row.value("cost")), unpricedCalls: try row.value("unpriced")))
        }
        return SpendRow.ranked(rows)
    }

    public func keySources() async throws -> [(keyID: String, address: String, firstSeen: Date)] {
        var sources: [(keyID: String, address: String, firstSeen: Date)] = []
        let rows = try await client.query(
            """
            SELECT key_id, client_ip, MIN(time) AS first FROM calls
            WHERE key_id IS NOT NULL AND client_ip IS NOT NULL GROUP BY key_id, client_ip
            """, logger: logger)
        for try await (keyID, address, first) in rows.decode((String, String, Int64).self) {
            sources.append((keyID: keyID, address: address, firstSeen: Date(milliseconds: first)))
        }
        return sources
    }

    /// Walks the (key_id, time, id) index: each key found by one seek past the last, then its latest
    /// call with an address by one more, so the cost follows the number of keys, not of calls.
    public func lastClientAddresses() async throws -> [String: String] {
        var addresses: [String: String] = [:]
        let rows = try await client.query(
            """
            WITH RECURSIVE logged(id) AS (
                (SELECT key_id FROM calls WHERE key_id IS NOT NULL ORDER BY key_id LIMIT 1)
                UNION ALL
                SELECT (SELECT c.key_id FROM calls c WHERE c.key_id > logged.id ORDER BY c.key_id LIMIT 1)
                FROM logged WHERE logged.id IS NOT NULL
            )
            SELECT logged.id, latest.client_ip FROM logged CROSS JOIN LATERAL (
                SELECT client_ip FROM calls c WHERE c.key_id = logged.id AND c.client_ip IS NOT NULL ORDER BY c.time DESC, c.id DESC LIMIT 1
            ) latest
            WHERE logged.id IS NOT NULL
            """, logger: logger)
        for try await (keyID, address) in rows.decode((String, String).self) {
            addresses[keyID] = address
        }
        return addresses
    }

    static func callRecord(_ row: PostgresRandomAccessRow) throws -> CallRecord {
        var record = CallRecord(
            id: try row.value("id"), time: Date(milliseconds: try row.value("time")), keyID: try row.value("key_id"),
            keyName: try row.value("key_name"), env: try row.value("env"), owner: try row.value("owner"),
            clientIP: try row.value("client_ip"), provider: try row.value("provider"), model: try row.value("model"),
            operation: CallOperation(rawValue: try row.value("operation")) ?? .chat, stream: try row.value("stream"),
            status: try row.value("status"), outcome: Outcome(rawValue: try row.value("outcome")) ?? .ok,
            usage: Usage(
                inputTokens: try row.value("input_tokens"), cachedInputTokens: try row.value("cached_input_tokens"),
                cacheWriteTokens: try row.value("cache_write_tokens"), outputTokens: try row.value("output_tokens")),
            cost: try row.value("cost_nanos", as: Int64?.self).map(Money.init(nanos:)), latencyMS: try row.value("latency_ms"),
            errorCode: try row.value("error_code"))
        record.keyGeneration = try row.value("key_generation")
        record.usageSource = try row.value("usage_source", as: String?.self).flatMap(UsageSource.init(rawValue:))
        return record
    }
}

// MARK: - StoreExport

extension PostgresStore: StoreExport {
    public func exportCalls(after id: String?, limit: Int) async throws -> [CallRecord] {
        var records: [CallRecord] = []
        for try await row in try await client.query(
            "SELECT * FROM calls WHERE id > \(id ?? "") ORDER BY id LIMIT \(limit)", logger: logger)
        {
            records.append(try Self.callRecord(row.makeRandomAccess()))
        }
        return records
    }

    public func exportSealedSecrets() async throws -> [SealedSecret] {
        var secrets: [SealedSecret] = []
        for try await row in try await client.query("SELECT * FROM sealed_secrets ORDER BY name, version", logger: logger) {
            secrets.append(try Self.sealedSecret(row.makeRandomAccess()))
        }
        return secrets
    }

    public func exportCounts() async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for table in exportedTables {
            let name = table == "keys" ? "virtual_keys" : table
            for try await count in try await client.query(PostgresQuery(unsafeSQL: "SELECT COUNT(*) FROM \(name)"), logger: logger)
                .decode(Int64.self)
            {
                counts[table] = Int(count)
            }
        }
        return counts
    }
}
