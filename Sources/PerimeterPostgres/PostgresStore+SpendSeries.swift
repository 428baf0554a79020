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
    /// Hour and day buckets read whole hours from the rollup and the hours the window cuts from the
    /// log; minute buckets (a day at most) read the log.
    public func spendSeries(_ query: SpendSeriesQuery) async throws -> [SpendPoint] {
        let size = query.bucket.milliseconds
        let group = query.groupBy?.column
        var bindings = PostgresBindings()
        func bounds(_ name: String, _ from: Int64?, _ before: Int64?) -> String {
            var conditions: [String] = []
            for (operation, value) in [(">=", from), ("<", before)] {
                guard let value else { continue }
                bindings.append(value)
                conditions.append(" AND \(name) \(operation) $\(bindings.count)")
            }
            return conditions.joined()
        }
        let (since, until) = (query.since.milliseconds, query.until.milliseconds)
        let plan: SpendRollup.Plan =
            query.bucket == .minute
            ? SpendRollup.Plan(logRanges: [(since, until)], rollup: nil) : SpendRollup.plan(since: since, until: until)
        var parts: [String] = plan.logRanges.map { range in
            """
            SELECT (time / \(size)) * \(size) AS start, \(group.map { "COALESCE(\($0), '')" } ?? "''") AS grp, COUNT(*) AS calls,
                   COUNT(*) FILTER (WHERE outcome = 'denied') AS denied, SUM(input_tokens) AS input,
                   SUM(output_tokens) AS output, COALESCE(SUM(cost_nanos), 0) AS cost
            FROM calls WHERE outcome <> 'in_flight'\(bounds("time", range.from, range.before)) GROUP BY 1, 2
            """
        }
        if let rollup = plan.rollup {
            parts.append(
                """
                SELECT (hour / \(size)) * \(size) AS start, \(group ?? "''") AS grp, SUM(calls) AS calls, SUM(denied) AS denied,
                       SUM(input_tokens) AS input, SUM(output_tokens) AS output, SUM(cost_nanos) AS cost
                FROM spend_hourly WHERE TRUE\(bounds("hour", rollup.from, rollup.before)) GROUP BY 1, 2
                """)
        }
        let sql = """
            SELECT start, grp, SUM(calls)::BIGINT AS calls, SUM(denied)::BIGINT AS denied, COALESCE(SUM(input), 0)::BIGINT AS input,
                   COALESCE(SUM(output), 0)::BIGINT AS output, SUM(cost)::BIGINT AS cost
            FROM (\(parts.joined(separator: " UNION ALL "))) parts GROUP BY start, grp HAVING SUM(calls) <> 0
            """
        var points: [SpendPoint] = []
        for try await row in try await client.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger) {
            let row = row.makeRandomAccess()
            points.append(
                SpendPoint(
                    start: Date(milliseconds: try row.value("start")), group: try row.value("grp"), calls: try row.value("calls"),
                    denied: try row.value("denied"), inputTokens: try row.value("input"), outputTokens: try row.value("output"),
                    cost: Money(nanos: try row.value("cost"))))
        }
        return SpendPoint.ordered(points)
    }

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
