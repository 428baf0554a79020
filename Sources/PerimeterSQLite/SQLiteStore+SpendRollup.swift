import Foundation
import GRDB
import PerimeterCore
import PerimeterStorage

/// The call log's spend per hour and per day, kept by SQLite itself, as PostgreSQL keeps `spend_hourly`:
/// row triggers on `calls` add each finished call to both rollups in the writer's own transaction, and
/// take back what an update (a placeholder replaced, an interrupted call closed or replaced) or a
/// delete removes, so the rollups always equal the log. Spend and series read whole days and hours
/// from them (``RollupPlan``) and only the cut hours from the log.
enum SQLiteRollup {
    static let sources: [RollupPlan.Source] = [.hourly, .daily]
    static let dimensions = ["key_id", "env", "model", "owner", "provider"]
    /// Each total, and how one call of the log adds to it, its columns named with a prefix ("", "NEW.", "OLD.").
    static let totals: [(column: String, ofCall: @Sendable (String) -> String)] = [
        ("calls", { _ in "1" }), ("denied", { "\($0)outcome = 'denied'" }), ("input_tokens", { "\($0)input_tokens" }),
        ("cached_input_tokens", { "\($0)cached_input_tokens" }), ("output_tokens", { "\($0)output_tokens" }),
        ("cost_nanos", { "COALESCE(\($0)cost_nanos, 0)" }), ("unpriced", { "\($0)cost_nanos IS NULL" }),
    ]

    static func table(_ source: RollupPlan.Source) -> (name: String, start: String) {
        source == .daily ? ("spend_daily", "day") : ("spend_hourly", "hour")
    }

    /// The migration: both tables and their triggers, then the calls already logged. GRDB runs it in
    /// one transaction holding the write lock, so no call lands between the copy and the triggers.
    static var migration: String {
        sources.map { source in
            let (name, start) = table(source)
            let width = source.width ?? 0
            let keyColumns = ([start] + dimensions).joined(separator: ", ")
            // Environment right after time: the overview's series by environment then reads the rows in
            // its groups' order and aggregates them without a sort.
            let primaryKey = [start, "env", "model", "provider", "owner", "key_id"].joined(separator: ", ")
            return """
                CREATE TABLE \(name) (
                    \(start) INTEGER NOT NULL,
                    \(dimensions.map { "\($0) TEXT NOT NULL" }.joined(separator: ", ")),
                    \(totals.map { "\($0.column) INTEGER NOT NULL" }.joined(separator: ", ")),
                    PRIMARY KEY (\(primaryKey))
                ) WITHOUT ROWID;
                CREATE INDEX \(name)_key ON \(name)(key_id, \(start));
                CREATE TRIGGER calls_\(name)_insert AFTER INSERT ON calls WHEN NEW.outcome <> 'in_flight'
                BEGIN \(upsert(source, row: "NEW", sign: "")) END;
                CREATE TRIGGER calls_\(name)_update_old AFTER UPDATE ON calls WHEN OLD.outcome <> 'in_flight'
                BEGIN \(upsert(source, row: "OLD", sign: "-")) END;
                CREATE TRIGGER calls_\(name)_update_new AFTER UPDATE ON calls WHEN NEW.outcome <> 'in_flight'
                BEGIN \(upsert(source, row: "NEW", sign: "")) END;
                CREATE TRIGGER calls_\(name)_delete AFTER DELETE ON calls WHEN OLD.outcome <> 'in_flight'
                BEGIN \(upsert(source, row: "OLD", sign: "-")) END;
                INSERT INTO \(name) (\(keyColumns), \(totals.map(\.column).joined(separator: ", ")))
                SELECT (time / \(width)) * \(width), \(dimensions.map { "COALESCE(\($0), '')" }.joined(separator: ", ")),
                       \(totals.map { "SUM(\($0.ofCall("")))" }.joined(separator: ", "))
                FROM calls WHERE outcome <> 'in_flight' GROUP BY \((1...6).map(String.init).joined(separator: ", "));
                """
        }.joined(separator: "\n")
    }

    /// Adds (or with `sign` "-", takes back) the call `row` (NEW or OLD) to its rollup row.
    static func upsert(_ source: RollupPlan.Source, row: String, sign: String) -> String {
        let (name, start) = table(source)
        let width = source.width ?? 0
        let values =
            ["(\(row).time / \(width)) * \(width)"] + dimensions.map { "COALESCE(\(row).\($0), '')" }
            + totals.map { "\(sign)(\($0.ofCall(row + ".")))" }
        return """
            INSERT INTO \(name) (\(([start] + dimensions + totals.map(\.column)).joined(separator: ", ")))
            VALUES (\(values.joined(separator: ", ")))
            ON CONFLICT DO UPDATE SET \(totals.map { "\($0.column) = \($0.column) + excluded.\($0.column)" }.joined(separator: ", "));
            """
    }

    /// One SELECT per part of `plan` (in SQL's terms, a UNION ALL of them), each giving `bucket` (the
    /// start of the query's bucket of `size` milliseconds, or 0 for none), `grp` (the grouped column, ""
    /// when none) and every total; `keyID` narrows each to one key. The caller sums them again.
    static func parts(
        of plan: RollupPlan, size: Int64?, grouping: String?, keyID: String?
    ) -> (sql: String, arguments: StatementArguments) {
        var arguments: StatementArguments = []
        let selects = plan.parts.map { part in
            let isLog = part.source == .log
            let (name, start) = isLog ? ("calls", "time") : table(part.source)
            var conditions = isLog ? ["outcome <> 'in_flight'"] : []
            for (operation, value) in [(">=", part.from), ("<", part.before)] {
                guard let value else { continue }
                conditions.append("\(start) \(operation) ?")
                arguments += [value]
            }
            if let keyID {
                conditions.append("key_id = ?")
                arguments += [keyID]
            }
            // A bucket as wide as the rollup's rows is their own time column, which the primary key orders.
            let bucket = size.map { $0 == part.source.width ? start : "(\(start) / \($0)) * \($0)" } ?? "0"
            let group = grouping.map { isLog ? "COALESCE(\($0), '')" : $0 } ?? "''"
            let sums = totals.map { "SUM(\(isLog ? $0.ofCall("") : $0.column)) AS \($0.column)" }
            return """
                SELECT \(bucket) AS bucket, \(group) AS grp, \(sums.joined(separator: ", "))
                FROM \(name)\(conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")) GROUP BY 1, 2
                """
        }
        return (selects.joined(separator: " UNION ALL "), arguments)
    }
}

extension SQLiteStore {
    /// Spend per group over the window, whole days and hours from the rollups.
    public func spend(_ query: SpendQuery) async throws -> [SpendRow] {
        let plan = RollupPlan(since: query.since?.milliseconds, until: query.until?.milliseconds, rollups: SQLiteRollup.sources)
        let (parts, arguments) = SQLiteRollup.parts(of: plan, size: nil, grouping: query.groupBy.column, keyID: nil)
        let sql = """
            SELECT grp, SUM(calls) AS calls, SUM(input_tokens) AS input, SUM(cached_input_tokens) AS cached,
                   SUM(output_tokens) AS output, SUM(cost_nanos) AS cost, SUM(unpriced) AS unpriced
            FROM (\(parts)) GROUP BY grp HAVING SUM(calls) <> 0
            """
        let rows = try await pool.read { db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                SpendRow(
                    group: row["grp"], calls: row["calls"], inputTokens: row["input"], cachedInputTokens: row["cached"],
                    outputTokens: row["output"], cost: Money(nanos: row["cost"]), unpricedCalls: row["unpriced"])
            }
        }
        return SpendRow.ranked(rows)
    }

    /// Hour buckets read whole hours from the hourly rollup, day buckets whole days from the daily one
    /// too, minute buckets (a day at most) the log.
    public func spendSeries(_ query: SpendSeriesQuery) async throws -> [SpendPoint] {
        let size = query.bucket.milliseconds
        let plan = RollupPlan(since: query.since.milliseconds, until: query.until.milliseconds, rollups: query.bucket.rollups)
        let (parts, arguments) = SQLiteRollup.parts(of: plan, size: size, grouping: query.groupBy?.column, keyID: query.keyID)
        let sql = """
            SELECT bucket, grp, SUM(calls) AS calls, SUM(denied) AS denied, SUM(input_tokens) AS input,
                   SUM(output_tokens) AS output, SUM(cost_nanos) AS cost
            FROM (\(parts)) GROUP BY bucket, grp HAVING SUM(calls) <> 0
            """
        let points = try await pool.read { db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                SpendPoint(
                    start: Date(milliseconds: row["bucket"]), group: row["grp"], calls: row["calls"], denied: row["denied"],
                    inputTokens: row["input"], outputTokens: row["output"], cost: Money(nanos: row["cost"]))
            }
        }
        return SpendPoint.ordered(points)
    }
}
