import Foundation
import GRDB
import PerimeterCore
import PerimeterStorage

/// Keys, admin tokens and calls in one SQLite file through GRDB: a `DatabasePool` in WAL mode, so the
/// call-log writer's batches never block readers. Times are stored as integer milliseconds (UTC).
public final class SQLiteStore: Sendable {
    let pool: DatabasePool

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    public init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // NORMAL is durable across application crashes in WAL mode and much faster than FULL.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(pool)
    }

    /// The migrations opening the database at `path` would apply, by name, without opening it for
    /// writing (a file that does not exist yet would get them all).
    public static func pendingMigrations(path: String) throws -> [String] {
        guard FileManager.default.fileExists(atPath: path) else { return migrator.migrations }
        var configuration = Configuration()
        configuration.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        let applied = try queue.read { db in try migrator.appliedIdentifiers(db) }
        return migrator.migrations.filter { !applied.contains($0) }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE virtual_keys (
                        id TEXT PRIMARY KEY NOT NULL,
                        name TEXT NOT NULL,
                        env TEXT NOT NULL,
                        owner TEXT,
                        prefix TEXT NOT NULL,
                        key_hash TEXT NOT NULL UNIQUE,
                        created_at INTEGER NOT NULL,
                        revoked_at INTEGER,
                        last_used_at INTEGER
                    );
                    CREATE INDEX virtual_keys_env ON virtual_keys(env);
                    CREATE TABLE admin_tokens (
                        id TEXT PRIMARY KEY NOT NULL,
                        name TEXT NOT NULL,
                        role TEXT NOT NULL,
                        token_hash TEXT NOT NULL UNIQUE,
                        created_at INTEGER NOT NULL,
                        revoked_at INTEGER
                    );
                    CREATE TABLE calls (
                        id TEXT PRIMARY KEY NOT NULL,
                        time INTEGER NOT NULL,
                        key_id TEXT,
                        key_name TEXT,
                        env TEXT,
                        owner TEXT,
                        client_ip TEXT,
                        provider TEXT,
                        model TEXT,
                        operation TEXT NOT NULL,
                        stream INTEGER NOT NULL,
                        status INTEGER NOT NULL,
                        outcome TEXT NOT NULL,
                        input_tokens INTEGER NOT NULL,
                        cached_input_tokens INTEGER NOT NULL,
                        cache_write_tokens INTEGER NOT NULL,
                        output_tokens INTEGER NOT NULL,
                        cost_nanos INTEGER,
                        latency_ms INTEGER NOT NULL,
                        error_code TEXT
                    );
                    CREATE INDEX calls_time ON calls(time);
                    CREATE INDEX calls_key_time ON calls(key_id, time);
                    CREATE INDEX calls_env_time ON calls(env, time);
                    """)
        }
        migrator.registerMigration("v2-key-policy") { db in
            try db.execute(sql: "ALTER TABLE virtual_keys ADD COLUMN policy TEXT NOT NULL DEFAULT '{}'")
        }
        migrator.registerMigration("v3-sealed-secrets") { db in
            try db.execute(
                sql: """
                    CREATE TABLE sealed_secrets (
                        name TEXT NOT NULL,
                        version INTEGER NOT NULL,
                        created_at INTEGER NOT NULL,
                        master_key_id TEXT NOT NULL,
                        wrapped_key BLOB NOT NULL,
                        ciphertext BLOB NOT NULL,
                        PRIMARY KEY (name, version)
                    )
                    """)
        }
        migrator.registerMigration("v4-rotation-audit") { db in
            try db.execute(
                sql: """
                    ALTER TABLE virtual_keys ADD COLUMN generation INTEGER NOT NULL DEFAULT 1;
                    ALTER TABLE virtual_keys ADD COLUMN retired_secrets TEXT NOT NULL DEFAULT '[]';
                    ALTER TABLE virtual_keys ADD COLUMN rotated_at INTEGER;
                    ALTER TABLE virtual_keys ADD COLUMN rotation TEXT;
                    ALTER TABLE calls ADD COLUMN key_generation INTEGER;
                    CREATE TABLE audit_log (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        id TEXT NOT NULL UNIQUE,
                        time INTEGER NOT NULL,
                        actor TEXT NOT NULL,
                        actor_id TEXT,
                        address TEXT,
                        action TEXT NOT NULL,
                        target TEXT,
                        details TEXT NOT NULL DEFAULT '{}'
                    );
                    CREATE INDEX audit_log_time ON audit_log(time);
                    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
                        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
                    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
                        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
                    """)
        }
        migrator.registerMigration("v5-findings") { db in
            try db.execute(
                sql: """
                    CREATE TABLE findings (
                        sha256 TEXT NOT NULL,
                        path TEXT NOT NULL,
                        rule TEXT NOT NULL,
                        provider TEXT,
                        line INTEGER,
                        commit_id TEXT,
                        managed_key_id TEXT,
                        reported_at INTEGER NOT NULL,
                        PRIMARY KEY (sha256, path, rule)
                    )
                    """)
        }
        migrator.registerMigration("v6-alerts-canary") { db in
            try db.execute(
                sql: """
                    ALTER TABLE virtual_keys ADD COLUMN canary INTEGER NOT NULL DEFAULT 0;
                    CREATE TABLE alerts (
                        id TEXT PRIMARY KEY NOT NULL,
                        type TEXT NOT NULL,
                        severity TEXT NOT NULL,
                        time INTEGER NOT NULL,
                        key_id TEXT,
                        env TEXT,
                        message TEXT NOT NULL,
                        details TEXT NOT NULL DEFAULT '{}'
                    );
                    CREATE INDEX alerts_time ON alerts(time);
                    CREATE TABLE alert_deliveries (
                        alert_id TEXT NOT NULL REFERENCES alerts(id),
                        channel TEXT NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        next_attempt INTEGER NOT NULL,
                        delivered_at INTEGER,
                        last_error TEXT,
                        PRIMARY KEY (alert_id, channel)
                    );
                    CREATE INDEX alert_deliveries_due ON alert_deliveries(delivered_at, next_attempt);
                    """)
        }
        migrator.registerMigration("v7-usage-source") { db in
            try db.execute(sql: "ALTER TABLE calls ADD COLUMN usage_source TEXT")
        }
        migrator.registerMigration("v8-alert-once") { db in
            try db.execute(
                sql: """
                    ALTER TABLE alerts ADD COLUMN once_key TEXT;
                    CREATE UNIQUE INDEX alerts_once_key ON alerts(once_key);
                    """)
        }
        migrator.registerMigration("v9-rotation-replays") { db in
            try db.execute(
                sql: """
                    CREATE TABLE rotation_replays (
                        lookup TEXT PRIMARY KEY,
                        key_id TEXT NOT NULL,
                        from_generation INTEGER NOT NULL,
                        claimed_at INTEGER NOT NULL,
                        expires_at INTEGER NOT NULL,
                        sealed BLOB
                    );
                    CREATE INDEX rotation_replays_expiry ON rotation_replays(expires_at);
                    """)
        }
        migrator.registerMigration("v10-finding-owners") { db in try db.execute(sql: findingOwnersMigration) }
        migrator.registerMigration("v11-provider-keys") { db in
            // One row per provider: its key list as the provider's admin API gave it, as JSON.
            try db.execute(sql: "CREATE TABLE provider_key_snapshots (provider TEXT PRIMARY KEY, snapshot TEXT NOT NULL)")
        }
        migrator.registerMigration("v12-call-pages") { db in try db.execute(sql: callPageIndexes) }
        migrator.registerMigration("v13-spend-rollup") { db in try db.execute(sql: SQLiteRollup.migration) }
        return migrator
    }
}

// MARK: - KeyStore

extension SQLiteStore: KeyStore {
    public func insert(_ key: VirtualKey) async throws {
        do {
            try await pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO virtual_keys (
                            id, name, env, owner, prefix, key_hash, created_at, revoked_at, last_used_at, policy,
                            generation, retired_secrets, rotated_at, rotation, canary
                        ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        key.id, key.name, key.env, key.owner, key.prefix, key.digest.hex, key.createdAt.milliseconds,
                        key.revokedAt?.milliseconds, key.lastUsedAt?.milliseconds, try Self.encode(key.policy),
                        key.generation, try StoredJSON.encode(key.retiredSecrets), key.rotatedAt?.milliseconds,
                        try key.rotation.map(StoredJSON.encode), key.isCanary,
                    ])
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw StoreConflict("a key with the same id or secret exists")
        }
    }

    public func key(id: String) async throws -> VirtualKey? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM virtual_keys WHERE id = ?", arguments: [id]).map { try Self.virtualKey($0) }
        }
    }

    public func keys(env: String?) async throws -> [VirtualKey] {
        try await pool.read { db in
            let rows =
                if let env {
                    try Row.fetchAll(
                        db, sql: "SELECT * FROM virtual_keys WHERE env = ? ORDER BY created_at, id", arguments: [env])
                } else {
                    try Row.fetchAll(db, sql: "SELECT * FROM virtual_keys ORDER BY created_at, id")
                }
            return try rows.map { try Self.virtualKey($0) }
        }
    }

    public func revoke(id: String, at time: Date) async throws -> VirtualKey? {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE virtual_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                arguments: [time.milliseconds, id])
            return try Row.fetchOne(db, sql: "SELECT * FROM virtual_keys WHERE id = ?", arguments: [id])
                .map { try Self.virtualKey($0) }
        }
    }

    public func update(id: String, _ change: @Sendable (inout VirtualKey) throws -> Void) async throws -> VirtualKey? {
        try await pool.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM virtual_keys WHERE id = ?", arguments: [id]) else { return nil }
            let current = try Self.virtualKey(row)
            var changed = current
            try change(&changed)
            changed.keepingIdentity(of: current)
            try db.execute(
                sql: "UPDATE virtual_keys SET name = ?, owner = ?, policy = ?, rotation = ? WHERE id = ?",
                arguments: [
                    changed.name, changed.owner, try Self.encode(changed.policy), try changed.rotation.map(StoredJSON.encode), id,
                ])
            return changed
        }
    }

    public func rotate(id: String, _ rotate: @Sendable (VirtualKey) throws -> VirtualKey) async throws -> VirtualKey? {
        try await pool.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM virtual_keys WHERE id = ?", arguments: [id]) else { return nil }
            let rotated = try rotate(try Self.virtualKey(row))
            try db.execute(
                sql: """
                    UPDATE virtual_keys SET key_hash = ?, prefix = ?, generation = ?, retired_secrets = ?, rotated_at = ?
                    WHERE id = ?
                    """,
                arguments: [
                    rotated.digest.hex, rotated.prefix, rotated.generation, try StoredJSON.encode(rotated.retiredSecrets),
                    rotated.rotatedAt?.milliseconds, id,
                ])
            return rotated
        }
    }

    public func recordUse(_ lastUsed: [String: Date]) async throws {
        guard !lastUsed.isEmpty else { return }
        try await pool.write { db in
            let statement = try db.cachedStatement(
                sql: """
                    UPDATE virtual_keys SET last_used_at = ?
                    WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)
                    """)
            for (id, time) in lastUsed {
                try statement.execute(arguments: [time.milliseconds, id, time.milliseconds])
            }
        }
    }

    /// Throws when a stored policy cannot be read: a key must never fall back to having no limits.
    private static func virtualKey(_ row: Row) throws -> VirtualKey {
        try VirtualKey(
            id: row["id"], name: row["name"], env: row["env"], owner: row["owner"], prefix: row["prefix"],
            digest: KeyDigest(hex: row["key_hash"])!,
            createdAt: Date(milliseconds: row["created_at"]),
            revokedAt: (row["revoked_at"] as Int64?).map(Date.init(milliseconds:)),
            lastUsedAt: (row["last_used_at"] as Int64?).map(Date.init(milliseconds:)),
            policy: JSONDecoder().decode(KeyPolicy.self, from: Data((row["policy"] as String).utf8)),
            generation: row["generation"],
            retiredSecrets: StoredJSON.decode([RetiredSecret].self, row["retired_secrets"]),
            rotatedAt: (row["rotated_at"] as Int64?).map(Date.init(milliseconds:)),
            rotation: (row["rotation"] as String?).map { try StoredJSON.decode(RotationSchedule.self, $0) },
            isCanary: row["canary"])
    }

    static func encode(_ policy: KeyPolicy) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(policy), as: UTF8.self)
    }
}

// MARK: - AdminTokenStore

extension SQLiteStore: AdminTokenStore {
    public func insertAdminToken(_ token: AdminToken) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO admin_tokens (id, name, role, token_hash, created_at, revoked_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    token.id, token.name, token.role.rawValue, token.digest.hex, token.createdAt.milliseconds,
                    token.revokedAt?.milliseconds,
                ])
        }
    }

    public func revokeAdminToken(id: String, at time: Date) async throws -> AdminToken? {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE admin_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", arguments: [time.milliseconds, id])
        }
        return try await adminTokens().first { $0.id == id }
    }

    public func adminTokens() async throws -> [AdminToken] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM admin_tokens ORDER BY created_at, id").map { row in
                AdminToken(
                    id: row["id"], name: row["name"], role: AdminRole(rawValue: row["role"]) ?? .viewer,
                    digest: KeyDigest(hex: row["token_hash"])!, createdAt: Date(milliseconds: row["created_at"]),
                    revokedAt: (row["revoked_at"] as Int64?).map(Date.init(milliseconds:)))
            }
        }
    }
}

extension SQLiteStore {
    /// The journal mode in force (`wal` for a pool).
    public func journalMode() async throws -> String {
        try await pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "" }
    }
}
