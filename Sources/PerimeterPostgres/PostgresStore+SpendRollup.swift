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

    /// The migration: the table, its triggers, then the rows already logged. Creating a trigger locks
    /// `calls` against writes until the migration commits, so no call lands between the copy and the triggers.
    static let migration: [String] = [
        """
        CREATE TABLE spend_hourly (
            hour BIGINT NOT NULL,
            key_id TEXT NOT NULL,
            env TEXT NOT NULL,
            model TEXT NOT NULL,
            owner TEXT NOT NULL,
            provider TEXT NOT NULL,
            calls BIGINT NOT NULL,
            input_tokens BIGINT NOT NULL,
            cached_input_tokens BIGINT NOT NULL,
            output_tokens BIGINT NOT NULL,
            cost_nanos BIGINT NOT NULL,
            unpriced BIGINT NOT NULL,
            PRIMARY KEY (hour, key_id, env, model, owner, provider)
        )
        """,
        // Budgets read one key's or one environment's hours.
        "CREATE INDEX spend_hourly_key ON spend_hourly (key_id, hour)",
        "CREATE INDEX spend_hourly_env ON spend_hourly (env, hour)",
        function("spend_hourly_add", sign: "", rows: "new_rows"),
        function("spend_hourly_remove", sign: "-", rows: "old_rows"),
        changeFunction(),
        """
        CREATE TRIGGER calls_rollup_insert AFTER INSERT ON calls REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION spend_hourly_add()
        """,
        """
        CREATE TRIGGER calls_rollup_update AFTER UPDATE ON calls REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION spend_hourly_change()
        """,
        """
        CREATE TRIGGER calls_rollup_delete AFTER DELETE ON calls REFERENCING OLD TABLE AS old_rows
        FOR EACH STATEMENT EXECUTE FUNCTION spend_hourly_remove()
        """,
        upsert(from: aggregate(sign: "", rows: "calls")),
    ]

    /// The same triggers' functions counting denied calls too (``deniedMigration``); the 0005 migration
    /// keeps the text it was applied with.
    static func function(_ name: String, sign: String, rows: String, denied: Bool = false) -> String {
        """
        CREATE \(denied ? "OR REPLACE " : "")FUNCTION \(name)() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            \(upsert(from: aggregate(sign: sign, rows: rows, denied: denied), denied: denied))
            RETURN NULL;
        END $$
        """
    }

    /// The update trigger's function: takes back the old rows and adds the new ones.
    static func changeFunction(denied: Bool = false) -> String {
        let both =
            "SELECT * FROM (\(aggregate(sign: "-", rows: "old_rows", denied: denied)) UNION ALL \(aggregate(sign: "", rows: "new_rows", denied: denied))) d"
        return """
            CREATE \(denied ? "OR REPLACE " : "")FUNCTION spend_hourly_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                \(upsert(from: both, denied: denied))
                RETURN NULL;
            END $$
            """
    }

    /// The finished calls of `rows` per hour and group, signed.
    static func aggregate(sign: String, rows: String, denied: Bool = false) -> String {
        """
        SELECT (time / \(hour)) * \(hour) AS hour, COALESCE(key_id, '') AS key_id, COALESCE(env, '') AS env,
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
    static func upsert(from source: String, denied: Bool = false) -> String {
        let totals =
            ["calls", "input_tokens", "cached_input_tokens", "output_tokens", "cost_nanos", "unpriced"] + (denied ? ["denied"] : [])
        return """
            INSERT INTO spend_hourly AS s (hour, key_id, env, model, owner, provider, \(totals.joined(separator: ", ")))
            SELECT hour, key_id, env, model, owner, provider, \(totals.map { "SUM(\($0))" }.joined(separator: ", "))
            FROM (\(source)) t GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
            ON CONFLICT (hour, key_id, env, model, owner, provider) DO UPDATE SET
            \(totals.map { "\($0) = s.\($0) + excluded.\($0)" }.joined(separator: ", "));
            """
    }

    /// How a window of the log is read: whole hours from the rollup, the hours it cuts from the log.
    struct Plan: Equatable {
        /// Time ranges (from, before) read from the log; nil is unbounded.
        var logRanges: [(from: Int64?, before: Int64?)]
        /// The hours read from the rollup, when any: from the first hour's start to before the last's end.
        var rollup: (from: Int64?, before: Int64?)?

        static func == (a: Plan, b: Plan) -> Bool {
            a.logRanges.map { [$0.from, $0.before] } == b.logRanges.map { [$0.from, $0.before] }
                && a.rollup.map { [$0.from, $0.before] } == b.rollup.map { [$0.from, $0.before] }
        }
    }

    /// The plan for calls with `since <= time < until` (milliseconds since 1970; nil is unbounded).
    static func plan(since: Int64?, until: Int64?) -> Plan {
        let first = since.map { ceilHour($0) }
        let last = until.map { floorHour($0) }
        if let first, let last, first >= last {
            return Plan(logRanges: [(since, until)], rollup: nil)
        }
        var ranges: [(from: Int64?, before: Int64?)] = []
        if let since, let first, since < first { ranges.append((since, first)) }
        if let until, let last, last < until { ranges.append((last, until)) }
        return Plan(logRanges: ranges, rollup: (first, last))
    }

    static func floorHour(_ time: Int64) -> Int64 {
        let remainder = time % hour
        return remainder < 0 ? time - remainder - hour : time - remainder
    }

    static func ceilHour(_ time: Int64) -> Int64 {
        let floor = floorHour(time)
        return floor == time ? time : floor + hour
    }
}

extension PostgresStore {
    /// Spend per `column` over the window, read by ``SpendRollup/plan(since:until:)``; `filter` (a
    /// column and its value) narrows it to one key or environment.
    static func windowSpend(
        groupBy column: String, since: Date?, until: Date?, filter: (column: String, value: String)? = nil
    ) -> PostgresQuery {
        let plan = SpendRollup.plan(since: since?.milliseconds, until: until?.milliseconds)
        var bindings = PostgresBindings()
        func bounds(_ name: String, _ from: Int64?, _ before: Int64?) -> String {
            var conditions: [String] = []
            if let from {
                bindings.append(from)
                conditions.append("\(name) >= $\(bindings.count)")
            }
            if let before {
                bindings.append(before)
                conditions.append("\(name) < $\(bindings.count)")
            }
            if let filter {
                bindings.append(filter.value)
                conditions.append("\(filter.column) = $\(bindings.count)")
            }
            return conditions.map { " AND " + $0 }.joined()
        }
        var parts: [String] = plan.logRanges.map { range in
            """
            SELECT COALESCE(\(column), '') AS grp, COUNT(*) AS calls, SUM(input_tokens) AS input,
                   SUM(cached_input_tokens) AS cached, SUM(output_tokens) AS output,
                   COALESCE(SUM(cost_nanos), 0) AS cost, COUNT(*) FILTER (WHERE cost_nanos IS NULL) AS unpriced
            FROM calls WHERE outcome <> 'in_flight'\(bounds("time", range.from, range.before)) GROUP BY 1
            """
        }
        if let rollup = plan.rollup {
            parts.append(
                """
                SELECT \(column) AS grp, SUM(calls) AS calls, SUM(input_tokens) AS input, SUM(cached_input_tokens) AS cached,
                       SUM(output_tokens) AS output, SUM(cost_nanos) AS cost, SUM(unpriced) AS unpriced
                FROM spend_hourly WHERE TRUE\(bounds("hour", rollup.from, rollup.before)) GROUP BY 1
                """)
        }
        let sql = """
            SELECT grp, SUM(calls)::BIGINT AS calls, COALESCE(SUM(input), 0)::BIGINT AS input,
                   COALESCE(SUM(cached), 0)::BIGINT AS cached, COALESCE(SUM(output), 0)::BIGINT AS output,
                   SUM(cost)::BIGINT AS cost, SUM(unpriced)::BIGINT AS unpriced
            FROM (\(parts.joined(separator: " UNION ALL "))) parts GROUP BY grp HAVING SUM(calls) <> 0
            """
        return PostgresQuery(unsafeSQL: sql, binds: bindings)
    }
}
