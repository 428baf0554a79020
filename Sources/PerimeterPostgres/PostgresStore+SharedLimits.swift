import Foundation
import PerimeterCore
import PerimeterStorage
import PostgresNIO

extension PostgresStore: RateDemandBoard {
    public func exchange(_ demand: [String: RateDemand], instance: String, at now: Date, freshSince: Date) async throws -> [String:
        RateDemand]
    {
        let keys = Array(demand.keys)
        // Clamped, so the sum over any number of instances stays within 64 bits.
        let requests = keys.map { Int64(min(demand[$0]?.requests ?? 0, 1_000_000_000_000_000)) }
        let tokens = keys.map { Int64(min(demand[$0]?.tokens ?? 0, 1_000_000_000_000_000)) }
        // Reports an hour old are of instances long gone.
        let stale = now.addingTimeInterval(-3600).milliseconds
        return try await transaction { [self] connection in
            try await connection.query(
                "DELETE FROM rate_demand WHERE instance = \(instance) OR reported_at < \(stale)", logger: logger)
            if !keys.isEmpty {
                try await connection.query(
                    """
                    INSERT INTO rate_demand (instance, key_id, requests, tokens, reported_at)
                    SELECT \(instance), r.key_id, r.requests, r.tokens, \(now.milliseconds)
                    FROM unnest(\(keys)::text[], \(requests)::bigint[], \(tokens)::bigint[]) AS r(key_id, requests, tokens)
                    """, logger: logger)
            }
            var sums: [String: RateDemand] = [:]
            let rows = try await connection.query(
                """
                SELECT key_id, SUM(requests)::BIGINT, SUM(tokens)::BIGINT FROM rate_demand
                WHERE instance <> \(instance) AND reported_at >= \(freshSince.milliseconds)
                GROUP BY key_id
                """, logger: logger)
            for try await (key, requests, tokens) in rows.decode((String, Int64, Int64).self) {
                sums[key] = RateDemand(requests: Int(clamping: requests), tokens: Int(clamping: tokens))
            }
            return sums
        }
    }
}

extension PostgresStore: RefusalLog {
    public func refusals(since: Date, until: Date, atLeast minimum: Int) async throws -> RefusalCounts {
        var counts = RefusalCounts()
        let rows = try await client.query(
            """
            SELECT COALESCE(key_id, ''), CASE WHEN key_id IS NULL THEN COALESCE(client_ip, '') ELSE '' END, COUNT(*)
            FROM calls
            WHERE outcome = 'denied' AND time >= \(since.milliseconds) AND time < \(until.milliseconds)
              AND (key_id IS NOT NULL OR (error_code = \(GatewayError.invalidKey.code) AND client_ip IS NOT NULL))
            GROUP BY 1, 2
            HAVING COUNT(*) >= \(Int64(max(1, minimum)))
            ORDER BY 3 DESC
            LIMIT \(Int64(RefusalCounts.limit))
            """, logger: logger)
        for try await (key, address, count) in rows.decode((String, String, Int64).self) {
            if !key.isEmpty {
                counts.deniedByKey[key] = Int(count)
            } else if !address.isEmpty {
                counts.unknownKeyByAddress[address] = Int(count)
            }
        }
        return counts
    }
}
