import Foundation
import PerimeterCore
import PerimeterStorage
import PostgresNIO

extension SpendRollup {
    /// Spend per day, kept like `spend_hourly` by statement triggers of its own, for windows of many
    /// days: a month of 1,000 keys is 30,000 rows here, against 720,000 hours. Filled from the calls
    /// already logged; the lock keeps calls from landing between the copy and the triggers.
    static let dailyMigration: [String] =
        ["LOCK TABLE calls IN SHARE ROW EXCLUSIVE MODE"] + tableAndTriggers(.daily, triggers: "calls_daily", denied: true) + [
            upsert(from: aggregate(sign: "", rows: "calls", denied: true, table: .daily), denied: true, table: .daily)
        ]
}

extension PostgresStore {
    /// Spend per `column` over the window, whole days and hours from the rollups (``RollupPlan``);
    /// `filter` (a column and its value) narrows it to one key or environment.
    static func windowSpend(
        groupBy column: String, since: Date?, until: Date?, filter: (column: String, value: String)? = nil
    ) -> PostgresQuery {
        let plan = RollupPlan(since: since?.milliseconds, until: until?.milliseconds, rollups: [.hourly, .daily])
        var bindings = PostgresBindings()
        let parts = rollupParts(plan, size: nil, grouping: column, filter: filter, denied: false, bindings: &bindings)
        let sql = """
            SELECT grp, SUM(calls)::BIGINT AS calls, COALESCE(SUM(input), 0)::BIGINT AS input,
                   COALESCE(SUM(cached), 0)::BIGINT AS cached, COALESCE(SUM(output), 0)::BIGINT AS output,
                   SUM(cost)::BIGINT AS cost, SUM(unpriced)::BIGINT AS unpriced
            FROM (\(parts)) parts GROUP BY grp HAVING SUM(calls) <> 0
            """
        return PostgresQuery(unsafeSQL: sql, binds: bindings)
    }

    /// Hour buckets read whole hours from `spend_hourly`, day buckets whole days from `spend_daily`
    /// too, minute buckets (a day at most) the log; each only the hours the window cuts from the log.
    public func spendSeries(_ query: SpendSeriesQuery) async throws -> [SpendPoint] {
        let plan = RollupPlan(since: query.since.milliseconds, until: query.until.milliseconds, rollups: query.bucket.rollups)
        var bindings = PostgresBindings()
        let parts = Self.rollupParts(
            plan, size: query.bucket.milliseconds, grouping: query.groupBy?.column, filter: query.keyID.map { ("key_id", $0) },
            denied: true, bindings: &bindings)
        let sql = """
            SELECT bucket, grp, SUM(calls)::BIGINT AS calls, SUM(denied)::BIGINT AS denied, COALESCE(SUM(input), 0)::BIGINT AS input,
                   COALESCE(SUM(output), 0)::BIGINT AS output, SUM(cost)::BIGINT AS cost
            FROM (\(parts)) parts GROUP BY bucket, grp HAVING SUM(calls) <> 0
            """
        var points: [SpendPoint] = []
        for try await row in try await client.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger) {
            let row = row.makeRandomAccess()
            points.append(
                SpendPoint(
                    start: Date(milliseconds: try row.value("bucket")), group: try row.value("grp"), calls: try row.value("calls"),
                    denied: try row.value("denied"), inputTokens: try row.value("input"), outputTokens: try row.value("output"),
                    cost: Money(nanos: try row.value("cost"))))
        }
        return SpendPoint.ordered(points)
    }

    /// One SELECT per part of `plan`, joined by UNION ALL, each giving `bucket` (the start of the
    /// query's bucket of `size` milliseconds, 0 for none), `grp` (the grouped column, "" when none) and
    /// the totals, which the caller sums again; `denied` (a column since migration 0008) only when asked.
    static func rollupParts(
        _ plan: RollupPlan, size: Int64?, grouping: String?, filter: (column: String, value: String)?, denied: Bool,
        bindings: inout PostgresBindings
    ) -> String {
        plan.parts.map { part in
            let table = part.source == .log ? nil : SpendRollup.Table.of(part.source)
            let start = table?.start ?? "time"
            var conditions = table == nil ? ["outcome <> 'in_flight'"] : ["TRUE"]
            for (operation, value) in [(">=", part.from), ("<", part.before)] {
                guard let value else { continue }
                bindings.append(value)
                conditions.append("\(start) \(operation) $\(bindings.count)")
            }
            if let filter {
                bindings.append(filter.value)
                conditions.append("\(filter.column) = $\(bindings.count)")
            }
            let bucket = size.map { "(\(start) / \($0)) * \($0)" } ?? "0::BIGINT"
            let totals =
                table == nil
                ? """
                COUNT(*) AS calls, \(denied ? "COUNT(*) FILTER (WHERE outcome = 'denied') AS denied, " : "")SUM(input_tokens) AS input,
                SUM(cached_input_tokens) AS cached, SUM(output_tokens) AS output, COALESCE(SUM(cost_nanos), 0) AS cost,
                COUNT(*) FILTER (WHERE cost_nanos IS NULL) AS unpriced
                """
                : """
                SUM(calls) AS calls, \(denied ? "SUM(denied) AS denied, " : "")SUM(input_tokens) AS input, SUM(cached_input_tokens) AS cached,
                SUM(output_tokens) AS output, SUM(cost_nanos) AS cost, SUM(unpriced) AS unpriced
                """
            let group = grouping.map { table == nil ? "COALESCE(\($0), '')" : $0 } ?? "''"
            return """
                SELECT \(bucket) AS bucket, \(group)::TEXT AS grp, \(totals)
                FROM \(table?.name ?? "calls") WHERE \(conditions.joined(separator: " AND ")) GROUP BY 1, 2
                """
        }.joined(separator: " UNION ALL ")
    }
}
