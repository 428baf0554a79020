import Foundation
import NIOCore
import PerimeterCore
import PerimeterStorage
import PostgresNIO

// The built-in secret store, the audit log, scan findings and the alert outbox, on PostgreSQL.

// MARK: - SealedSecretStore

extension PostgresStore: SealedSecretStore {
    public func appendSealedSecret(_ secret: SealedSecret) async throws {
        do {
            try await client.query(
                """
                INSERT INTO sealed_secrets (name, version, created_at, master_key_id, wrapped_key, ciphertext)
                VALUES (\(secret.name), \(secret.version), \(secret.createdAt.milliseconds), \(secret.masterKeyID),
                        \(ByteBuffer(bytes: secret.wrappedKey)), \(ByteBuffer(bytes: secret.ciphertext)))
                """, logger: logger)
        } catch let error as PSQLError where error.isUniqueViolation {
            throw SealedSecretStoreError.versionExists(name: secret.name, version: secret.version)
        }
        try await notifySecretChanged(secret.name)
    }

    /// Tells every instance that the built-in store's secret `name` changed (see ``KeyChangeFeed``).
    func notifySecretChanged(_ name: String) async throws {
        try await client.query("SELECT pg_notify(\(Self.keyChannel), \(KeyChange.secretPrefix + name))", logger: logger)
    }

    public func latestSealedSecret(name: String) async throws -> SealedSecret? {
        let rows = try await client.query(
            "SELECT * FROM sealed_secrets WHERE name = \(name) ORDER BY version DESC LIMIT 1", logger: logger)
        for try await row in rows { return try Self.sealedSecret(row.makeRandomAccess()) }
        return nil
    }

    static func sealedSecret(_ row: PostgresRandomAccessRow) throws -> SealedSecret {
        SealedSecret(
            name: try row.value("name"), version: try row.value("version"),
            createdAt: Date(milliseconds: try row.value("created_at")), masterKeyID: try row.value("master_key_id"),
            wrappedKey: Array(buffer: try row.value("wrapped_key", as: ByteBuffer.self)),
            ciphertext: Array(buffer: try row.value("ciphertext", as: ByteBuffer.self)))
    }

    public func sealedSecretSummaries() async throws -> [SealedSecretSummary] {
        let rows = try await client.query(
            """
            SELECT s.name, s.version, s.created_at, s.master_key_id, g.versions, g.first_created
            FROM sealed_secrets s
            JOIN (SELECT name, MAX(version) AS latest, COUNT(*) AS versions, MIN(created_at) AS first_created
                  FROM sealed_secrets GROUP BY name) g
              ON g.name = s.name AND g.latest = s.version
            ORDER BY s.name
            """, logger: logger)
        var summaries: [SealedSecretSummary] = []
        for try await row in rows {
            let row = row.makeRandomAccess()
            summaries.append(
                SealedSecretSummary(
                    name: try row.value("name"), latestVersion: try row.value("version"), versions: try row.value("versions"),
                    createdAt: Date(milliseconds: try row.value("first_created")),
                    updatedAt: Date(milliseconds: try row.value("created_at")), masterKeyID: try row.value("master_key_id")))
        }
        return summaries
    }

    public func deleteSealedSecret(name: String) async throws -> Int {
        var deleted = 0
        for try await _ in try await client.query("DELETE FROM sealed_secrets WHERE name = \(name) RETURNING version", logger: logger) {
            deleted += 1
        }
        if deleted > 0 { try await notifySecretChanged(name) }
        return deleted
    }
}

// MARK: - AuditLog

extension PostgresStore: AuditLog {
    public func appendAudit(_ entry: AuditEntry) async throws {
        try await client.query(
            """
            INSERT INTO audit_log (id, time, actor, actor_id, address, action, target, details)
            VALUES (\(entry.id), \(entry.time.milliseconds), \(entry.actor), \(entry.actorID), \(entry.address), \(entry.action),
                    \(entry.target), \(entry.details))
            """, logger: logger)
    }

    public func auditEntries(since: Date?, limit: Int) async throws -> [AuditEntry] {
        let rows = try await client.query(
            "SELECT * FROM audit_log WHERE time >= \(since?.milliseconds ?? 0) ORDER BY seq DESC LIMIT \(limit)", logger: logger)
        var entries: [AuditEntry] = []
        for try await row in rows { entries.append(try Self.auditEntry(row.makeRandomAccess())) }
        return entries
    }

    /// Audit entries by `seq`, for `db copy`.
    public func exportAudit(after position: Int64?, limit: Int) async throws -> (entries: [AuditEntry], last: Int64?) {
        let rows = try await client.query(
            "SELECT * FROM audit_log WHERE seq > \(position ?? 0) ORDER BY seq LIMIT \(limit)", logger: logger)
        var entries: [AuditEntry] = []
        var last = position
        for try await row in rows {
            let row = row.makeRandomAccess()
            entries.append(try Self.auditEntry(row))
            last = try row.value("seq", as: Int64.self)
        }
        return (entries, last)
    }

    private static func auditEntry(_ row: PostgresRandomAccessRow) throws -> AuditEntry {
        AuditEntry(
            id: try row.value("id"), time: Date(milliseconds: try row.value("time")), actor: try row.value("actor"),
            actorID: try row.value("actor_id"), address: try row.value("address"), action: try row.value("action"),
            target: try row.value("target"), details: try row.value("details"))
    }
}

// MARK: - FindingStore

extension PostgresStore: FindingStore {
    public func recordFindings(_ findings: [ReportedFinding], at time: Date) async throws -> Int {
        try await transaction { [self] connection in
            var added = 0
            for finding in findings {
                let rows = try await connection.query(
                    """
                    INSERT INTO findings (sha256, path, rule, provider, line, commit_id, managed_key_id, reported_at,
                                          owner, hostname, classification)
                    VALUES (\(finding.sha256), \(finding.path), \(finding.rule), \(finding.provider), \(finding.line),
                            \(finding.commit), \(finding.managedKeyID), \(time.milliseconds), \(finding.owner ?? ""),
                            \(finding.hostname ?? ""), \(finding.classification))
                    ON CONFLICT DO NOTHING RETURNING sha256
                    """, logger: logger)
                for try await _ in rows { added += 1 }
            }
            return added
        }
    }

    public func reportedFindings() async throws -> [ReportedFinding] {
        var findings: [ReportedFinding] = []
        let query: PostgresQuery = "SELECT * FROM findings ORDER BY path, line, rule, owner, hostname"
        for try await row in try await client.query(query, logger: logger) {
            let row = row.makeRandomAccess()
            let owner: String = try row.value("owner")
            let hostname: String = try row.value("hostname")
            findings.append(
                ReportedFinding(
                    rule: try row.value("rule"), provider: try row.value("provider"), path: try row.value("path"),
                    line: try row.value("line"), commit: try row.value("commit_id"), sha256: try row.value("sha256"),
                    managedKeyID: try row.value("managed_key_id"), owner: owner.isEmpty ? nil : owner,
                    hostname: hostname.isEmpty ? nil : hostname, classification: try row.value("classification"),
                    reportedAt: Date(milliseconds: try row.value("reported_at"))))
        }
        return findings
    }
}

// MARK: - AlertStore

extension PostgresStore: AlertStore {
    public func insertAlert(_ alert: Alert, channels: [String], at time: Date) async throws -> Bool {
        let details = try StoredJSON.encode(alert.details)
        return try await transaction { [self] connection in
            // Instances that see the same cause race here; the unique once_key lets exactly one in.
            var inserted = false
            for try await _ in try await connection.query(
                """
                INSERT INTO alerts (id, type, severity, time, key_id, env, message, details, once_key)
                VALUES (\(alert.id), \(alert.type.rawValue), \(alert.severity.rawValue), \(alert.time.milliseconds), \(alert.keyID),
                        \(alert.env), \(alert.message), \(details), \(alert.onceKey))
                ON CONFLICT (once_key) DO NOTHING RETURNING id
                """, logger: logger)
            {
                inserted = true
            }
            guard inserted else { return false }
            for channel in channels {
                try await connection.query(
                    "INSERT INTO alert_deliveries (alert_id, channel, next_attempt) VALUES (\(alert.id), \(channel), \(time.milliseconds))",
                    logger: logger)
            }
            return true
        }
    }

    /// Rows another dispatcher holds are skipped (FOR UPDATE SKIP LOCKED), and each claimed row's next
    /// attempt moves to `until` in the same statement, so every delivery has one claimer at a time.
    public func claimDueDeliveries(at time: Date, limit: Int, until: Date) async throws -> [(Alert, AlertDelivery)] {
        let rows = try await client.query(
            """
            WITH due AS (
                SELECT alert_id, channel FROM alert_deliveries
                WHERE delivered_at IS NULL AND next_attempt <= \(time.milliseconds)
                ORDER BY next_attempt, alert_id LIMIT \(limit)
                FOR UPDATE SKIP LOCKED
            ), claimed AS (
                UPDATE alert_deliveries d SET next_attempt = \(until.milliseconds)
                FROM due WHERE d.alert_id = due.alert_id AND d.channel = due.channel
                RETURNING d.*
            )
            SELECT a.*, c.channel, c.attempts, c.next_attempt, c.delivered_at, c.last_error
            FROM claimed c JOIN alerts a ON a.id = c.alert_id
            ORDER BY a.time, a.id
            """, logger: logger)
        var due: [(Alert, AlertDelivery)] = []
        for try await row in rows {
            let row = row.makeRandomAccess()
            let alert = try Self.alert(row)
            due.append((alert, try Self.delivery(row, alertID: alert.id)))
        }
        return due
    }

    public func markDelivered(alertID: String, channel: String, at time: Date) async throws {
        try await client.query(
            """
            UPDATE alert_deliveries SET delivered_at = \(time.milliseconds), attempts = attempts + 1, last_error = NULL
            WHERE alert_id = \(alertID) AND channel = \(channel) AND delivered_at IS NULL
            """, logger: logger)
    }

    public func markFailed(alertID: String, channel: String, error: String, nextAttempt: Date) async throws {
        let message = String(error.prefix(500))
        try await client.query(
            """
            UPDATE alert_deliveries SET attempts = attempts + 1, last_error = \(message), next_attempt = \(nextAttempt.milliseconds)
            WHERE alert_id = \(alertID) AND channel = \(channel) AND delivered_at IS NULL
            """, logger: logger)
    }

    public func alerts(since: Date?, limit: Int) async throws -> [StoredAlert] {
        try await withDeliveries(
            client.query(
                "SELECT * FROM alerts WHERE time >= \(since?.milliseconds ?? 0) ORDER BY time DESC, id DESC LIMIT \(limit)",
                logger: logger))
    }

    /// Alerts oldest first, for `db copy`.
    public func exportAlerts(after: AlertPosition?, limit: Int) async throws -> [StoredAlert] {
        try await withDeliveries(
            client.query(
                """
                SELECT * FROM alerts WHERE (time, id) > (\(after?.time.milliseconds ?? Int64.min), \(after?.id ?? ""))
                ORDER BY time, id LIMIT \(limit)
                """, logger: logger))
    }

    private func withDeliveries(_ rows: PostgresRowSequence) async throws -> [StoredAlert] {
        var alerts: [Alert] = []
        for try await row in rows { alerts.append(try Self.alert(row.makeRandomAccess())) }
        var stored: [StoredAlert] = []
        for alert in alerts {
            var deliveries: [AlertDelivery] = []
            let rows = try await client.query(
                "SELECT * FROM alert_deliveries WHERE alert_id = \(alert.id) ORDER BY channel", logger: logger)
            for try await row in rows { deliveries.append(try Self.delivery(row.makeRandomAccess(), alertID: alert.id)) }
            stored.append(StoredAlert(alert: alert, deliveries: deliveries))
        }
        return stored
    }

    private static func alert(_ row: PostgresRandomAccessRow) throws -> Alert {
        Alert(
            id: try row.value("id"), type: AlertType(rawValue: try row.value("type")) ?? .denialBurst,
            severity: AlertSeverity(rawValue: try row.value("severity")) ?? .warning, time: Date(milliseconds: try row.value("time")),
            keyID: try row.value("key_id"), env: try row.value("env"), message: try row.value("message"),
            details: try StoredJSON.decode([String: String].self, try row.value("details")), onceKey: try row.value("once_key"))
    }

    private static func delivery(_ row: PostgresRandomAccessRow, alertID: String) throws -> AlertDelivery {
        AlertDelivery(
            alertID: alertID, channel: try row.value("channel"), attempts: try row.value("attempts"),
            nextAttempt: Date(milliseconds: try row.value("next_attempt")),
            deliveredAt: try row.value("delivered_at", as: Int64?.self).map(Date.init(milliseconds:)),
            lastError: try row.value("last_error"))
    }
}

// MARK: - ProviderKeyStore

extension PostgresStore: ProviderKeyStore {
    public func saveProviderKeys(_ snapshot: ProviderKeySnapshot) async throws {
        let text = try StoredJSON.encode(snapshot)
        try await client.query(
            """
            INSERT INTO provider_key_snapshots (provider, snapshot) VALUES (\(snapshot.provider), \(text))
            ON CONFLICT (provider) DO UPDATE SET snapshot = excluded.snapshot
            """, logger: logger)
    }

    public func providerKeySnapshots() async throws -> [ProviderKeySnapshot] {
        var snapshots: [ProviderKeySnapshot] = []
        for try await text in try await client.query("SELECT snapshot FROM provider_key_snapshots ORDER BY provider", logger: logger)
            .decode(String.self)
        {
            snapshots.append(try StoredJSON.decode(ProviderKeySnapshot.self, text))
        }
        return snapshots
    }
}
