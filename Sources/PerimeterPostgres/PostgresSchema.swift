import Foundation
import Logging
import PostgresNIO

/// The schema, as named migrations applied in order, each once, in one transaction that holds an
/// advisory lock: two instances starting together wait for each other and migrate once.
enum PostgresSchema {
    /// Any fixed number: the advisory lock every Perimeter instance takes to migrate.
    static let migrationLock: Int64 = 0x5045_5249_4D45_5445

    static let migrations: [(name: String, statements: [String])] = [
        (
            "0001-initial",
            [
                """
                CREATE TABLE virtual_keys (
                    id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    env TEXT NOT NULL,
                    owner TEXT,
                    prefix TEXT NOT NULL,
                    key_hash TEXT NOT NULL UNIQUE,
                    created_at BIGINT NOT NULL,
                    revoked_at BIGINT,
                    last_used_at BIGINT,
                    policy TEXT NOT NULL DEFAULT '{}',
                    generation BIGINT NOT NULL DEFAULT 1,
                    retired_secrets TEXT NOT NULL DEFAULT '[]',
                    rotated_at BIGINT,
                    rotation TEXT,
                    canary BOOLEAN NOT NULL DEFAULT FALSE
                )
                """,
                "CREATE INDEX virtual_keys_env ON virtual_keys (env)",
                """
                CREATE TABLE admin_tokens (
                    id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    role TEXT NOT NULL,
                    token_hash TEXT NOT NULL UNIQUE,
                    created_at BIGINT NOT NULL,
                    revoked_at BIGINT
                )
                """,
                """
                CREATE TABLE calls (
                    id TEXT PRIMARY KEY,
                    time BIGINT NOT NULL,
                    key_id TEXT,
                    key_name TEXT,
                    env TEXT,
                    owner TEXT,
                    client_ip TEXT,
                    provider TEXT,
                    model TEXT,
                    operation TEXT NOT NULL,
                    stream BOOLEAN NOT NULL,
                    status BIGINT NOT NULL,
                    outcome TEXT NOT NULL,
                    input_tokens BIGINT NOT NULL,
                    cached_input_tokens BIGINT NOT NULL,
                    cache_write_tokens BIGINT NOT NULL,
                    output_tokens BIGINT NOT NULL,
                    cost_nanos BIGINT,
                    latency_ms BIGINT NOT NULL,
                    error_code TEXT,
                    key_generation BIGINT,
                    usage_source TEXT
                )
                """,
                "CREATE INDEX calls_time ON calls (time)",
                "CREATE INDEX calls_key_time ON calls (key_id, time)",
                "CREATE INDEX calls_env_time ON calls (env, time)",
                "CREATE INDEX calls_in_flight ON calls (outcome) WHERE outcome = 'in_flight'",
                """
                CREATE TABLE sealed_secrets (
                    name TEXT NOT NULL,
                    version BIGINT NOT NULL,
                    created_at BIGINT NOT NULL,
                    master_key_id TEXT NOT NULL,
                    wrapped_key BYTEA NOT NULL,
                    ciphertext BYTEA NOT NULL,
                    PRIMARY KEY (name, version)
                )
                """,
                """
                CREATE TABLE audit_log (
                    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
                    time BIGINT NOT NULL,
                    actor TEXT NOT NULL,
                    actor_id TEXT,
                    address TEXT,
                    action TEXT NOT NULL,
                    target TEXT,
                    details TEXT NOT NULL DEFAULT '{}'
                )
                """,
                "CREATE INDEX audit_log_time ON audit_log (time)",
                // Append-only, enforced by the database: no UPDATE, DELETE or TRUNCATE gets through.
                """
                CREATE FUNCTION perimeter_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION 'the audit log is append-only';
                END;
                $$
                """,
                """
                CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
                    FOR EACH ROW EXECUTE FUNCTION perimeter_audit_log_append_only()
                """,
                """
                CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
                    FOR EACH STATEMENT EXECUTE FUNCTION perimeter_audit_log_append_only()
                """,
                """
                CREATE TABLE findings (
                    sha256 TEXT NOT NULL,
                    path TEXT NOT NULL,
                    rule TEXT NOT NULL,
                    provider TEXT,
                    line BIGINT,
                    commit_id TEXT,
                    managed_key_id TEXT,
                    reported_at BIGINT NOT NULL,
                    PRIMARY KEY (sha256, path, rule)
                )
                """,
                """
                CREATE TABLE alerts (
                    id TEXT PRIMARY KEY,
                    type TEXT NOT NULL,
                    severity TEXT NOT NULL,
                    time BIGINT NOT NULL,
                    key_id TEXT,
                    env TEXT,
                    message TEXT NOT NULL,
                    details TEXT NOT NULL DEFAULT '{}'
                )
                """,
                "CREATE INDEX alerts_time ON alerts (time)",
                """
                CREATE TABLE alert_deliveries (
                    alert_id TEXT NOT NULL REFERENCES alerts (id),
                    channel TEXT NOT NULL,
                    attempts BIGINT NOT NULL DEFAULT 0,
                    next_attempt BIGINT NOT NULL,
                    delivered_at BIGINT,
                    last_error TEXT,
                    PRIMARY KEY (alert_id, channel)
                )
                """,
                "CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt) WHERE delivered_at IS NULL",
            ]
        ),
        (
            "0002-budget-leases",
            [
                // Which instance wrote each call, so a dead instance's calls can be counted and closed.
                "ALTER TABLE calls ADD COLUMN instance TEXT",
                "CREATE INDEX calls_instance_in_flight ON calls (instance) WHERE outcome = 'in_flight'",
                """
                CREATE TABLE gateway_instances (
                    id TEXT PRIMARY KEY,
                    started_at BIGINT NOT NULL,
                    seen_at BIGINT NOT NULL
                )
                """,
                // One row per budget counter (scope and period): spend counted from returned and reclaimed leases.
                """
                CREATE TABLE budget_pools (
                    counter TEXT PRIMARY KEY,
                    scope_kind TEXT NOT NULL,
                    scope_id TEXT NOT NULL,
                    period_start BIGINT NOT NULL,
                    period_end BIGINT,
                    spent_nanos BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE budget_leases (
                    counter TEXT NOT NULL REFERENCES budget_pools (counter),
                    instance TEXT NOT NULL,
                    granted_nanos BIGINT NOT NULL,
                    used_nanos BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    epoch BIGINT NOT NULL,
                    -- How much of used_nanos is in the pool's spent_nanos already (by a reclaim).
                    counted_nanos BIGINT NOT NULL DEFAULT 0,
                    -- Reclaimed after expiring and not renewed since: it holds nothing but its spend.
                    swept BOOLEAN NOT NULL DEFAULT FALSE,
                    PRIMARY KEY (counter, instance)
                )
                """,
                "CREATE INDEX budget_leases_expiry ON budget_leases (expires_at)",
                // An alert every instance may see the cause of (a budget threshold) is stored once.
                "ALTER TABLE alerts ADD COLUMN once_key TEXT UNIQUE",
            ]
        ),
        (
            "0003-rotation-replays",
            [
                // A rotation asked with an Idempotency-Key: its sealed answer, for a retry to any instance.
                """
                CREATE TABLE rotation_replays (
                    lookup TEXT PRIMARY KEY,
                    key_id TEXT NOT NULL,
                    from_generation BIGINT NOT NULL,
                    claimed_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    sealed BYTEA
                )
                """,
                "CREATE INDEX rotation_replays_expiry ON rotation_replays (expires_at)",
            ]
        ),
        (
            "0004-shared-limits",
            [
                // What each key asked of each instance in the last minute: instances split per-minute limits by it.
                """
                CREATE TABLE rate_demand (
                    instance TEXT NOT NULL,
                    key_id TEXT NOT NULL,
                    requests BIGINT NOT NULL,
                    tokens BIGINT NOT NULL,
                    reported_at BIGINT NOT NULL,
                    PRIMARY KEY (instance, key_id)
                )
                """,
                "CREATE INDEX rate_demand_reported ON rate_demand (reported_at)",
                // Denials of the last minute, counted by every instance each second for burst alerts.
                "CREATE INDEX calls_denied_time ON calls (time) WHERE outcome = 'denied'",
            ]
        ),
        ("0005-spend-rollup", SpendRollup.migration),
        (
            "0006-provider-keys",
            // One row per provider: its key list as the provider's admin API gave it, as JSON.
            ["CREATE TABLE provider_key_snapshots (provider TEXT PRIMARY KEY, snapshot TEXT NOT NULL)"]
        ),
        (
            "0007-finding-owners",
            [
                // The owner and hostname of the machine a finding was on ('' for none: primary key
                // columns cannot be null) join its key, so one secret on two machines is two rows.
                "ALTER TABLE findings ADD COLUMN owner TEXT NOT NULL DEFAULT ''",
                "ALTER TABLE findings ADD COLUMN hostname TEXT NOT NULL DEFAULT ''",
                "ALTER TABLE findings ADD COLUMN classification TEXT",
                "ALTER TABLE findings DROP CONSTRAINT findings_pkey",
                "ALTER TABLE findings ADD PRIMARY KEY (sha256, path, rule, owner, hostname)",
            ]
        ),
        ("0008-console-reads", SpendRollup.deniedMigration),
        ("0009-spend-daily", SpendRollup.dailyMigration),
    ]

    /// Applies every migration not yet applied, under the advisory lock, in one transaction.
    static func migrate(_ client: PostgresClient, logger: Logger) async throws {
        try await client.withTransaction(logger: logger) { connection in
            // A migration takes as long as the data it rewrites (0008 and 0009 read the whole call
            // log), and instances starting beside the one migrating wait on the lock for all of it:
            // the session's statement and lock timeouts, meant for the request path, do not apply.
            try await connection.query("SET LOCAL statement_timeout = 0", logger: logger)
            try await connection.query("SET LOCAL lock_timeout = 0", logger: logger)
            try await connection.query("SELECT pg_advisory_xact_lock(\(migrationLock))", logger: logger)
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS perimeter_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)",
                logger: logger)
            var applied: Set<String> = []
            for try await name in try await connection.query("SELECT name FROM perimeter_migrations", logger: logger).decode(String.self) {
                applied.insert(name)
            }
            for migration in migrations where !applied.contains(migration.name) {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                let now = Date().milliseconds
                try await connection.query(
                    "INSERT INTO perimeter_migrations (name, applied_at) VALUES (\(migration.name), \(now))", logger: logger)
            }
        }
    }

    /// The statements `migrate` would run against a database that has `applied`, for `db migrate --dry-run`.
    static func pending(applied: Set<String>) -> [(name: String, statements: [String])] {
        migrations.filter { !applied.contains($0.name) }
    }
}
