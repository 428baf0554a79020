import Foundation
import PerimeterCore
import PerimeterStorage
import PostgresNIO

/// The call log's spend per hour, kept by the database itself: triggers on `calls` add each statement's
/// finished calls to `spend_hourly` in the same transaction, and take back what an update or a delete
/// removes, so the rollup always equals the log. A spend query reads whole hours from the rollup and
/// only the partial hours at its window's edges from the log, so it costs the same at 10 million calls
/// as at ten thousand.
enum SpendRollup {
    static let hour: Int64 = 3_600_000

    /// A rollup table: `spend_hourly`, and `spend_daily` (migration 0009) for windows of many days.
    struct Table: Sendable {
        var name: String
        /// Its time column: the start of the row's hour or day.
        var start: String
        var width: Int64

        static let hourly = Table(name: "spend_hourly", start: "hour", width: hour)
        static let daily = Table(name: "spend_daily", start: "day", width: 86_400_000)

        static func of(_ source: RollupPlan.Source) -> Table { source == .daily ? .daily : .hourly }
    }

    /// The migration: the table, its triggers, then the rows already logged. Creating a trigger locks
    /// `calls` against writes until the migration commits, so no call lands between the copy and the triggers.
    static let migration: [String] =
        tableAndTriggers(.hourly, triggers: "calls_rollup", denied: false) + [upsert(from: aggregate(sign: "", rows: "calls"))]

    /// A rollup table, its indexes (budgets read one key's or one environment's rows), its trigger
    /// functions and the statement triggers named `triggers`_insert, _update and _delete calling them.
    static func tableAndTriggers(_ table: Table, triggers: String, denied: Bool) -> [String] {
        let totals =
            ["calls", "input_tokens", "cached_input_tokens", "output_tokens", "cost_nanos", "unpriced"] + (denied ? ["denied"] : [])
        let columns =
            ([table.start + " BIGINT"] + ["key_id", "env", "model", "owner", "provider"].map { $0 + " TEXT" }
            + totals.map { $0 + " BIGINT" })
            .map { $0 + " NOT NULL" } + ["PRIMARY KEY (\(table.start), key_id, env, model, owner, provider)"]
        return [
            "CREATE TABLE \(table.name) (\(columns.joined(separator: ", ")))",
            "CREATE INDEX \(table.name)_key ON \(table.name) (key_id, \(table.start))",
            "CREATE INDEX \(table.name)_env ON \(table.name) (env, \(table.start))",
            function("\(table.name)_add", sign: "", rows: "new_rows", denied: denied, table: table),
            function("\(table.name)_remove", sign: "-", rows: "old_rows", denied: denied, table: table),
            changeFunction(denied: denied, table: table),
            """
            CREATE TRIGGER \(triggers)_insert AFTER INSERT ON calls REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION \(table.name)_add()
            """,
            """
            CREATE TRIGGER \(triggers)_update AFTER UPDATE ON calls REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION \(table.name)_change()
            """,
            """
            CREATE TRIGGER \(triggers)_delete AFTER DELETE ON calls REFERENCING OLD TABLE AS old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION \(table.name)_remove()
            """,
        ]
    }

    /// The same triggers' functions counting denied calls too (``deniedMigration``); the 0005 migration
    /// keeps the text it was applied with.
    static func function(_ name: String, sign: String, rows: String, denied: Bool = false, table: Table = .hourly) -> String {
        """
        CREATE \(denied ? "OR REPLACE " : "")FUNCTION \(name)() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            \(upsert(from: aggregate(sign: sign, rows: rows, denied: denied, table: table), denied: denied, table: table))
            RETURN NULL;
        END $$
        """
    }

    /// The update trigger's function: takes back the old rows and adds the new ones.
    static func changeFunction(denied: Bool = false, table: Table = .hourly) -> String {
        let both = """
            SELECT * FROM (\(aggregate(sign: "-", rows: "old_rows", denied: denied, table: table)) UNION ALL \
            \(aggregate(sign: "", rows: "new_rows", denied: denied, table: table))) d
            """
        return """
            CREATE \(denied ? "OR REPLACE " : "")FUNCTION \(table.name)_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                \(upsert(from: both, denied: denied, table: table))
                RETURN NULL;
            END $$
            """
    }

    /// The finished calls of `rows` per hour and group, signed.
    static func aggregate(sign: String, rows: String, denied: Bool = false, table: Table = .hourly) -> String {
        """
        SELECT (time / \(table.width)) * \(table.width) AS \(table.start), COALESCE(key_id, '') AS key_id, COALESCE(env, '') AS env,
               COALESCE(model, '') AS model, COALESCE(owner, '') AS owner, COALESCE(provider, '') AS provider,
               \(sign)COUNT(*) AS calls,
               \(sign)SUM(input_tokens) AS input_tokens, \(sign)SUM(cached_input_tokens) AS cached_input_tokens,
               \(sign)SUM(output_tokens) AS output_tokens, \(sign)COALESCE(SUM(cost_nanos), 0) AS cost_nanos,
               \(sign)COUNT(*) FILTER (WHERE cost_nanos IS NULL) AS unpriced\(denied ? ",\n       \(sign)COUNT(*) FILTER (WHERE outcome = 'denied') AS denied" : "")
        FROM \(rows) WHERE outcome <> 'in_flight' GROUP BY 1, 2, 3, 4, 5, 6
        """
    }

    /// Adds the rows of `source` (grouped again, so one statement touches each rollup row once) in a
    /// fixed order, so two writers updating the same hours lock them in the same order.
    static func upsert(from source: String, denied: Bool = false, table: Table = .hourly) -> String {
        let totals =
            ["calls", "input_tokens", "cached_input_tokens", "output_tokens", "cost_nanos", "unpriced"] + (denied ? ["denied"] : [])
        let columns = "\(table.start), key_id, env, model, owner, provider"
        return """
            INSERT INTO \(table.name) AS s (\(columns), \(totals.joined(separator: ", ")))
            SELECT \(columns), \(totals.map { "SUM(\($0))" }.joined(separator: ", "))
            FROM (\(source)) t GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
            ON CONFLICT (\(columns)) DO UPDATE SET
            \(totals.map { "\($0) = s.\($0) + excluded.\($0)" }.joined(separator: ", "));
            """
    }
}
