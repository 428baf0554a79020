import Foundation
import GRDB
import PerimeterCore
import PerimeterStorage

extension SQLiteStore {
    public func callBreakdown(_ query: BreakdownQuery) async throws -> [BreakdownRow] {
        var conditions = ["outcome != 'in_flight'"]
        var arguments: StatementArguments = []
        let filters: [(String, (any DatabaseValueConvertible)?)] = [
            ("key_id = ?", query.keyID), ("env = ?", query.env), ("time >= ?", query.since?.milliseconds),
            ("time < ?", query.until?.milliseconds),
        ]
        for (condition, value) in filters {
            guard let value else { continue }
            conditions.append(condition)
            arguments += [value]
        }
        arguments += [query.limit]
        let sql = """
            SELECT COALESCE(\(query.by.column), '') AS value, COUNT(*) AS calls, COALESCE(SUM(cost_nanos), 0) AS cost
            FROM calls WHERE \(conditions.joined(separator: " AND ")) GROUP BY value
            ORDER BY calls DESC, cost DESC, value LIMIT ?
            """
        let boundArguments = arguments
        let rows = try await pool.read { db in
            try Row.fetchAll(db, sql: sql, arguments: boundArguments).map { row in
                BreakdownRow(value: row["value"], calls: row["calls"], cost: Money(nanos: row["cost"]))
            }
        }
        return BreakdownRow.ranked(rows)
    }

    /// Every call-log page reads newest first with ties on time broken by id, alone or narrowed by one
    /// column: an index per such column ending in (time, id) answers a page without sorting the log.
    static let callPageIndexes = """
        DROP INDEX calls_time;
        DROP INDEX calls_key_time;
        DROP INDEX calls_env_time;
        CREATE INDEX calls_time_id ON calls(time, id);
        CREATE INDEX calls_key_time_id ON calls(key_id, time, id);
        CREATE INDEX calls_env_time_id ON calls(env, time, id);
        CREATE INDEX calls_model_time_id ON calls(model, time, id);
        CREATE INDEX calls_outcome_time_id ON calls(outcome, time, id);
        """
}
