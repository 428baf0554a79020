import Foundation
import PerimeterCore
import PerimeterStorage
import PostgresNIO

extension SpendRollup {
    /// Adds a count of denied calls to the rollup, for series of denials: the column, the trigger
    /// functions counting it, the count of the calls already logged, and indexes answering every call-log
    /// page (newest first, ties on time by id, alone or narrowed by one column) without a sort. The
    /// lock keeps calls from landing between the new functions and the count.
    static let deniedMigration: [String] = [
        "LOCK TABLE calls IN SHARE ROW EXCLUSIVE MODE",
        "ALTER TABLE spend_hourly ADD COLUMN denied BIGINT NOT NULL DEFAULT 0",
        function("spend_hourly_add", sign: "", rows: "new_rows", denied: true),
        function("spend_hourly_remove", sign: "-", rows: "old_rows", denied: true),
        changeFunction(denied: true),
        """
        UPDATE spend_hourly s SET denied = d.denied
        FROM (
            SELECT (time / \(hour)) * \(hour) AS hour, COALESCE(key_id, '') AS key_id, COALESCE(env, '') AS env,
                   COALESCE(model, '') AS model, COALESCE(owner, '') AS owner, COALESCE(provider, '') AS provider, COUNT(*) AS denied
            FROM calls WHERE outcome = 'denied' GROUP BY 1, 2, 3, 4, 5, 6
        ) d
        WHERE s.hour = d.hour AND s.key_id = d.key_id AND s.env = d.env AND s.model = d.model AND s.owner = d.owner
          AND s.provider = d.provider
        """,
        "DROP INDEX calls_time",
        "DROP INDEX calls_key_time",
        "DROP INDEX calls_env_time",
        "CREATE INDEX calls_time_id ON calls (time, id)",
        "CREATE INDEX calls_key_time_id ON calls (key_id, time, id)",
        "CREATE INDEX calls_env_time_id ON calls (env, time, id)",
        "CREATE INDEX calls_model_time_id ON calls (model, time, id)",
        "CREATE INDEX calls_outcome_time_id ON calls (outcome, time, id)",
    ]
}

extension PostgresStore {
    public func callBreakdown(_ query: BreakdownQuery) async throws -> [BreakdownRow] {
        var bindings = PostgresBindings()
        let conditions =
            ["outcome <> 'in_flight'"]
            + Self.callConditions(
                equal: [("key_id", query.keyID), ("env", query.env)], since: query.since, until: query.until, bindings: &bindings)
        bindings.append(query.limit)
        let sql = """
            SELECT COALESCE(\(query.by.column), '') AS value, COUNT(*) AS calls, COALESCE(SUM(cost_nanos), 0)::BIGINT AS cost
            FROM calls WHERE \(conditions.joined(separator: " AND ")) GROUP BY 1
            ORDER BY calls DESC, cost DESC, value LIMIT $\(bindings.count)
            """
        var rows: [BreakdownRow] = []
        for try await (value, calls, cost) in try await client.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)
            .decode((String, Int64, Int64).self)
        {
            rows.append(BreakdownRow(value: value, calls: Int(calls), cost: Money(nanos: cost)))
        }
        return BreakdownRow.ranked(rows)
    }
}
