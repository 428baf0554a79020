import Foundation
import GRDB
import PerimeterCore
import PerimeterStorage

// The built-in secret store, the audit log, scan findings and the alert outbox, in SQLite.

// MARK: - SealedSecretStore

extension SQLiteStore: SealedSecretStore {
    public func appendSealedSecret(_ secret: SealedSecret) async throws {
        do {
            try await pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO sealed_secrets (name, version, created_at, master_key_id, wrapped_key, ciphertext)
                        VALUES (?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        secret.name, secret.version, secret.createdAt.milliseconds, secret.masterKeyID,
                        Data(secret.wrappedKey), Data(secret.ciphertext),
                    ])
            }
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY {
            throw SealedSecretStoreError.versionExists(name: secret.name, version: secret.version)
        }
    }

    public func latestSealedSecret(name: String) async throws -> SealedSecret? {
        try await pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM sealed_secrets WHERE name = ? ORDER BY version DESC LIMIT 1", arguments: [name]
            ).map { row in
                SealedSecret(
                    name: row["name"], version: row["version"], createdAt: Date(milliseconds: row["created_at"]),
                    masterKeyID: row["master_key_id"], wrappedKey: [UInt8](row["wrapped_key"] as Data),
                    ciphertext: [UInt8](row["ciphertext"] as Data))
            }
        }
    }

    public func sealedSecretSummaries() async throws -> [SealedSecretSummary] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT s.name, s.version, s.created_at, s.master_key_id, g.versions, g.first_created
                    FROM sealed_secrets s
                    JOIN (SELECT name, MAX(version) AS latest, COUNT(*) AS versions, MIN(created_at) AS first_created
                          FROM sealed_secrets GROUP BY name) g
                      ON g.name = s.name AND g.latest = s.version
                    ORDER BY s.name
                    """
            ).map { row in
                SealedSecretSummary(
                    name: row["name"], latestVersion: row["version"], versions: row["versions"],
                    createdAt: Date(milliseconds: row["first_created"]), updatedAt: Date(milliseconds: row["created_at"]),
                    masterKeyID: row["master_key_id"])
            }
        }
    }

    public func deleteSealedSecret(name: String) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM sealed_secrets WHERE name = ?", arguments: [name])
            return db.changesCount
        }
    }
}

// MARK: - AuditLog

extension SQLiteStore: AuditLog {
    public func appendAudit(_ entry: AuditEntry) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO audit_log (id, time, actor, actor_id, address, action, target, details)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    entry.id, entry.time.milliseconds, entry.actor, entry.actorID, entry.address, entry.action, entry.target,
                    entry.details,
                ])
        }
    }

    public func auditEntries(since: Date?, limit: Int) async throws -> [AuditEntry] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM audit_log WHERE time >= ? ORDER BY seq DESC LIMIT ?",
                arguments: [since?.milliseconds ?? 0, limit]
            ).map(Self.auditEntry)
        }
    }

    /// Audit entries by `seq`, for `db copy`.
    public func exportAudit(after position: Int64?, limit: Int) async throws -> (entries: [AuditEntry], last: Int64?) {
        try await pool.read { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT * FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?", arguments: [position ?? 0, limit])
            return (rows.map(Self.auditEntry), rows.last.map { $0["seq"] } ?? position)
        }
    }

    private static func auditEntry(_ row: Row) -> AuditEntry {
        AuditEntry(
            id: row["id"], time: Date(milliseconds: row["time"]), actor: row["actor"], actorID: row["actor_id"],
            address: row["address"], action: row["action"], target: row["target"], details: row["details"])
    }
}

// MARK: - FindingStore

extension SQLiteStore: FindingStore {
    /// Findings gain the owner and hostname of the machine they were found on (`''` for none, as a
    /// primary key column cannot be null) and their classification; the key includes the first two,
    /// so one secret on two machines is two rows. SQLite cannot change a primary key in place: the
    /// table is copied.
    static let findingOwnersMigration = """
        CREATE TABLE findings_v10 (
            sha256 TEXT NOT NULL,
            path TEXT NOT NULL,
            rule TEXT NOT NULL,
            provider TEXT,
            line INTEGER,
            commit_id TEXT,
            managed_key_id TEXT,
            reported_at INTEGER NOT NULL,
            owner TEXT NOT NULL DEFAULT '',
            hostname TEXT NOT NULL DEFAULT '',
            classification TEXT,
            PRIMARY KEY (sha256, path, rule, owner, hostname)
        );
        INSERT INTO findings_v10 (sha256, path, rule, provider, line, commit_id, managed_key_id, reported_at)
            SELECT sha256, path, rule, provider, line, commit_id, managed_key_id, reported_at FROM findings;
        DROP TABLE findings;
        ALTER TABLE findings_v10 RENAME TO findings;
        """

    public func recordFindings(_ findings: [ReportedFinding], at time: Date) async throws -> Int {
        try await pool.write { db in
            var added = 0
            for finding in findings {
                try db.execute(
                    sql: """
                        INSERT OR IGNORE INTO findings (sha256, path, rule, provider, line, commit_id, managed_key_id, reported_at,
                                                        owner, hostname, classification)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        finding.sha256, finding.path, finding.rule, finding.provider, finding.line, finding.commit,
                        finding.managedKeyID, time.milliseconds, finding.owner ?? "", finding.hostname ?? "", finding.classification,
                    ])
                added += db.changesCount
            }
            return added
        }
    }

    public func reportedFindings() async throws -> [ReportedFinding] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM findings ORDER BY path, line, rule, owner, hostname").map { row in
                let owner: String = row["owner"]
                let hostname: String = row["hostname"]
                return ReportedFinding(
                    rule: row["rule"], provider: row["provider"], path: row["path"], line: row["line"], commit: row["commit_id"],
                    sha256: row["sha256"], managedKeyID: row["managed_key_id"], owner: owner.isEmpty ? nil : owner,
                    hostname: hostname.isEmpty ? nil : hostname, classification: row["classification"],
                    reportedAt: Date(milliseconds: row["reported_at"]))
            }
        }
    }
}

// MARK: - AlertStore

extension SQLiteStore: AlertStore {
    public func insertAlert(_ alert: Alert, channels: [String], at time: Date) async throws -> Bool {
        let details = try StoredJSON.encode(alert.details)
        return try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO alerts (id, type, severity, time, key_id, env, message, details, once_key)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (once_key) DO NOTHING
                    """,
                arguments: [
                    alert.id, alert.type.rawValue, alert.severity.rawValue, alert.time.milliseconds, alert.keyID, alert.env,
                    alert.message, details, alert.onceKey,
                ])
            guard db.changesCount > 0 else { return false }
            for channel in channels {
                try db.execute(
                    sql: "INSERT INTO alert_deliveries (alert_id, channel, next_attempt) VALUES (?, ?, ?)",
                    arguments: [alert.id, channel, time.milliseconds])
            }
            return true
        }
    }

    public func claimDueDeliveries(at time: Date, limit: Int, until: Date) async throws -> [(Alert, AlertDelivery)] {
        try await pool.write { db in
            let due = try Row.fetchAll(
                db,
                sql: """
                    SELECT a.*, d.channel, d.attempts, d.next_attempt, d.delivered_at, d.last_error
                    FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id
                    WHERE d.delivered_at IS NULL AND d.next_attempt <= ?
                    ORDER BY a.time, a.id LIMIT ?
                    """,
                arguments: [time.milliseconds, limit]
            ).map { row in (try Self.alert(row), Self.delivery(row, alertID: row["id"])) }
            for (alert, delivery) in due {
                try db.execute(
                    sql: "UPDATE alert_deliveries SET next_attempt = ? WHERE alert_id = ? AND channel = ?",
                    arguments: [until.milliseconds, alert.id, delivery.channel])
            }
            return due
        }
    }

    public func markDelivered(alertID: String, channel: String, at time: Date) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    UPDATE alert_deliveries SET delivered_at = ?, attempts = attempts + 1, last_error = NULL
                    WHERE alert_id = ? AND channel = ? AND delivered_at IS NULL
                    """,
                arguments: [time.milliseconds, alertID, channel])
        }
    }

    public func markFailed(alertID: String, channel: String, error: String, nextAttempt: Date) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    UPDATE alert_deliveries SET attempts = attempts + 1, last_error = ?, next_attempt = ?
                    WHERE alert_id = ? AND channel = ? AND delivered_at IS NULL
                    """,
                arguments: [String(error.prefix(500)), nextAttempt.milliseconds, alertID, channel])
        }
    }

    public func alerts(since: Date?, limit: Int) async throws -> [StoredAlert] {
        try await pool.read { db in
            let alerts = try Row.fetchAll(
                db, sql: "SELECT * FROM alerts WHERE time >= ? ORDER BY time DESC, id DESC LIMIT ?",
                arguments: [since?.milliseconds ?? 0, limit]
            ).map(Self.alert)
            return try alerts.map { alert in
                let deliveries = try Row.fetchAll(
                    db, sql: "SELECT * FROM alert_deliveries WHERE alert_id = ? ORDER BY channel", arguments: [alert.id]
                ).map { Self.delivery($0, alertID: alert.id) }
                return StoredAlert(alert: alert, deliveries: deliveries)
            }
        }
    }

    /// Alerts oldest first, for `db copy`.
    public func exportAlerts(after: AlertPosition?, limit: Int) async throws -> [StoredAlert] {
        try await pool.read { db in
            let alerts = try Row.fetchAll(
                db, sql: "SELECT * FROM alerts WHERE (time, id) > (?, ?) ORDER BY time, id LIMIT ?",
                arguments: [after?.time.milliseconds ?? Int64.min, after?.id ?? "", limit]
            ).map(Self.alert)
            return try alerts.map { alert in
                let deliveries = try Row.fetchAll(
                    db, sql: "SELECT * FROM alert_deliveries WHERE alert_id = ? ORDER BY channel", arguments: [alert.id]
                ).map { Self.delivery($0, alertID: alert.id) }
                return StoredAlert(alert: alert, deliveries: deliveries)
            }
        }
    }

    private static func alert(_ row: Row) throws -> Alert {
        Alert(
            id: row["id"], type: AlertType(rawValue: row["type"]) ?? .denialBurst,
            severity: AlertSeverity(rawValue: row["severity"]) ?? .warning, time: Date(milliseconds: row["time"]),
            keyID: row["key_id"], env: row["env"], message: row["message"],
            details: try StoredJSON.decode([String: String].self, row["details"]), onceKey: row["once_key"])
    }

    private static func delivery(_ row: Row, alertID: String) -> AlertDelivery {
        AlertDelivery(
            alertID: alertID, channel: row["channel"], attempts: row["attempts"], nextAttempt: Date(milliseconds: row["next_attempt"]),
            deliveredAt: (row["delivered_at"] as Int64?).map(Date.init(milliseconds:)), lastError: row["last_error"])
    }
}

// MARK: - ProviderKeyStore

extension SQLiteStore: ProviderKeyStore {
    public func saveProviderKeys(_ snapshot: ProviderKeySnapshot) async throws {
        let text = try StoredJSON.encode(snapshot)
        try await pool.write { db in
            try db.execute(
                sql:
                    "INSERT INTO provider_key_snapshots (provider, snapshot) VALUES (?, ?) ON CONFLICT(provider) DO UPDATE SET snapshot = excluded.snapshot",
                arguments: [snapshot.provider, text])
        }
    }

    public func providerKeySnapshots() async throws -> [ProviderKeySnapshot] {
        let texts = try await pool.read { db in
            try String.fetchAll(db, sql: "SELECT snapshot FROM provider_key_snapshots ORDER BY provider")
        }
        return try texts.map { try StoredJSON.decode(ProviderKeySnapshot.self, $0) }
    }
}
