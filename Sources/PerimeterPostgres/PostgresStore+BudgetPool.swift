import Foundation
import PerimeterCore
import PerimeterStorage
import PostgresNIO

// Budget leases on PostgreSQL: every change to a counter's leases runs in a transaction that holds the
// counter's pool row (SELECT ... FOR UPDATE), so grants computed from what the others hold never add
// up past the limit.
extension PostgresStore: BudgetPool {
    public func acquire(
        _ counter: BudgetCounter, limit: Money, need: Money, step: Money, calls: Int64, instance: String, expiresAt: Date, at now: Date
    ) async throws -> LeaseLedger.Grant {
        try await transaction { [self] connection in
            try await Self.ensurePool(counter, connection: connection, logger: logger)
            let pool = try await Self.lockPool(counter, instance: instance, connection: connection, logger: logger)
            var live = 1
            for try await count in try await connection.query("SELECT COUNT(*) FROM gateway_instances", logger: logger).decode(
                Int64.self)
            {
                live = max(1, Int(count))
            }
            let mine = pool.mine
            let free = limit - pool.standing.othersCommitted - (mine ?? .zero)
            var added = Money.zero
            if free >= need {
                added = need + Self.extra(need: need, step: step, calls: calls, free: free, instances: live)
            }
            var epoch: Int64 = 0
            for try await value in try await connection.query(
                """
                INSERT INTO budget_leases (counter, instance, granted_nanos, used_nanos, expires_at, epoch)
                VALUES (\(counter.description), \(instance), \(added.nanos), 0, \(expiresAt.milliseconds), \(Int64.random(in: 1...Int64.max)))
                ON CONFLICT (counter, instance) DO UPDATE
                SET granted_nanos = budget_leases.granted_nanos + excluded.granted_nanos, expires_at = excluded.expires_at
                RETURNING epoch
                """, logger: logger
            ).decode(Int64.self) {
                epoch = value
            }
            return LeaseLedger.Grant(
                added: added, othersCommitted: pool.standing.othersCommitted, othersSpent: pool.standing.othersSpent, epoch: epoch)
        }
    }

    public func renew(_ reports: [LeaseLedger.Report], instance: String, expiresAt: Date, at now: Date) async throws -> [BudgetCounter:
        PoolStanding?]
    {
        try await transaction { [self] connection in
            try await connection.query(
                """
                INSERT INTO gateway_instances (id, started_at, seen_at) VALUES (\(instance), \(now.milliseconds), \(now.milliseconds))
                ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at
                """, logger: logger)
            guard !reports.isEmpty else { return [:] }
            let names = reports.map(\.counter.description)
            let used = reports.map(\.used.nanos)
            let giveBack = reports.map(\.giveBack.nanos)
            // A reclaimed (swept) lease comes back holding only its spend, and its instance's own
            // account of that spend replaces what the reclaim counted from the log (which took calls
            // then in flight at their worst case).
            var held: [String: Bool] = [:]
            var recount: [(counter: String, by: Int64)] = []
            let rows = try await connection.query(
                """
                WITH r AS (
                    SELECT * FROM unnest(\(names)::text[], \(used)::bigint[], \(giveBack)::bigint[]) AS r(counter, used, give_back)
                ), prior AS (
                    SELECT l.counter, l.swept, l.counted_nanos FROM budget_leases l JOIN r ON l.counter = r.counter
                    WHERE l.instance = \(instance) FOR UPDATE OF l
                )
                UPDATE budget_leases l
                SET used_nanos = r.used, expires_at = \(expiresAt.milliseconds), swept = FALSE,
                    granted_nanos = CASE WHEN prior.swept THEN r.used ELSE GREATEST(r.used, l.granted_nanos - r.give_back) END,
                    counted_nanos = CASE WHEN prior.swept THEN r.used ELSE l.counted_nanos END
                FROM r JOIN prior ON prior.counter = r.counter
                WHERE l.counter = r.counter AND l.instance = \(instance)
                RETURNING l.counter, prior.swept, r.used - prior.counted_nanos
                """, logger: logger)
            for try await (name, wasSwept, change) in rows.decode((String, Bool, Int64).self) {
                held[name] = wasSwept
                if wasSwept, change != 0 { recount.append((name, change)) }
            }
            for (counter, change) in recount {
                try await connection.query(
                    "UPDATE budget_pools SET spent_nanos = spent_nanos + \(change) WHERE counter = \(counter)", logger: logger)
            }
            let standings = try await Self.standings(names, apart: instance, connection: connection, logger: logger)
            var answers: [BudgetCounter: PoolStanding?] = [:]
            for report in reports {
                let name = report.counter.description
                guard let wasSwept = held[name], var standing = standings[name] else {
                    answers[report.counter] = .some(nil)
                    continue
                }
                standing.wasReclaimed = wasSwept
                answers[report.counter] = standing
            }
            return answers
        }
    }

    public func close(_ reports: [LeaseLedger.Report], instance: String) async throws {
        guard !reports.isEmpty else { return }
        let names = reports.map(\.counter.description)
        let used = reports.map(\.used.nanos)
        _ = try await transaction { [self] connection in
            // Only a lease still held counts: one reclaimed after expiring was counted then.
            try await connection.query(
                """
                WITH gone AS (
                    DELETE FROM budget_leases l USING unnest(\(names)::text[], \(used)::bigint[]) AS r(counter, used)
                    WHERE l.counter = r.counter AND l.instance = \(instance)
                    RETURNING l.counter, GREATEST(l.used_nanos, r.used) - l.counted_nanos AS used
                )
                UPDATE budget_pools p SET spent_nanos = p.spent_nanos + GREATEST(gone.used, 0) FROM gone WHERE p.counter = gone.counter
                """, logger: logger)
        }
    }

    public func standing(_ counter: BudgetCounter, at now: Date) async throws -> PoolStanding {
        try await transaction { [self] connection in
            try await Self.ensurePool(counter, connection: connection, logger: logger)
            let standings = try await Self.standings([counter.description], apart: "", connection: connection, logger: logger)
            return standings[counter.description] ?? PoolStanding(othersCommitted: .zero, othersSpent: .zero)
        }
    }

    /// Creates the pools of the counters it does not know yet (each from the log), then reads them all at once.
    public func standings(_ counters: [BudgetCounter], at now: Date) async throws -> [BudgetCounter: PoolStanding] {
        guard !counters.isEmpty else { return [:] }
        return try await transaction { [self] connection in
            let names = counters.map(\.description)
            var known: Set<String> = []
            for try await name in try await connection.query(
                "SELECT counter FROM budget_pools WHERE counter = ANY(\(names)::text[])", logger: logger
            ).decode(String.self) {
                known.insert(name)
            }
            for counter in counters where !known.contains(counter.description) {
                try await Self.ensurePool(counter, connection: connection, logger: logger)
            }
            let standings = try await Self.standings(names, apart: "", connection: connection, logger: logger)
            var answer: [BudgetCounter: PoolStanding] = [:]
            for counter in counters {
                answer[counter] = standings[counter.description] ?? PoolStanding(othersCommitted: .zero, othersSpent: .zero)
            }
            return answer
        }
    }

    public func liveInstances(at now: Date, since: Date) async throws -> Int {
        var count = 0
        for try await value in try await client.query(
            "SELECT COUNT(*) FROM gateway_instances WHERE seen_at >= \(since.milliseconds)", logger: logger
        ).decode(Int64.self) {
            count = Int(value)
        }
        return count
    }

    public func sweep(at now: Date, deadBefore: Date) async throws -> Int {
        try await transaction { [self] connection in
            // One instance sweeps at a time; the others skip this round.
            var isSweeper = false
            for try await locked in try await connection.query(
                "SELECT pg_try_advisory_xact_lock(\(Self.sweepLock))", logger: logger
            ).decode(Bool.self) {
                isSweeper = locked
            }
            guard isSweeper else { return 0 }
            var expired:
                [(counter: String, instance: String, used: Int64, counted: Int64, kind: String, id: String, start: Int64, end: Int64?)] = []
            let rows = try await connection.query(
                """
                SELECT l.counter, l.instance, l.used_nanos, l.counted_nanos, p.scope_kind, p.scope_id, p.period_start, p.period_end
                FROM budget_leases l JOIN budget_pools p ON p.counter = l.counter
                WHERE l.expires_at < \(now.milliseconds) AND NOT l.swept
                ORDER BY l.counter
                FOR UPDATE OF p, l
                """, logger: logger)
            for try await row in rows.decode((String, String, Int64, Int64, String, String, Int64, Int64?).self) {
                expired.append(row)
            }
            for lease in expired {
                // What the dead instance spent: its calls in the log (a call answered has at least its
                // in_flight row, at the worst case reserved), or its last report if that says more.
                let column = lease.kind == "key" ? "key_id" : "env"
                var logged: Int64 = 0
                let sum = try await connection.query(
                    PostgresQuery(
                        unsafeSQL: """
                            SELECT COALESCE(SUM(cost_nanos), 0)::BIGINT FROM calls
                            WHERE instance = $1 AND \(column) = $2 AND time >= $3 AND ($4::BIGINT IS NULL OR time < $4)
                            """,
                        binds: Self.bindings(lease.instance, lease.id, lease.start, lease.end)), logger: logger)
                for try await value in sum.decode(Int64.self) { logged = value }
                // The lease stays, holding nothing: an instance only cut off may still report more spend.
                let counted = max(logged, lease.used, lease.counted)
                try await connection.query(
                    """
                    UPDATE budget_pools SET spent_nanos = spent_nanos + \(counted - lease.counted) WHERE counter = \(lease.counter)
                    """, logger: logger)
                try await connection.query(
                    """
                    UPDATE budget_leases SET counted_nanos = \(counted), granted_nanos = 0, swept = TRUE
                    WHERE counter = \(lease.counter) AND instance = \(lease.instance)
                    """, logger: logger)
            }
            try await connection.query(
                "DELETE FROM budget_leases WHERE swept AND expires_at < \(now.addingTimeInterval(-86400).milliseconds)", logger: logger)
            // Instances gone quiet: their in_flight rows will never be finished; close them as a restart would.
            var dead: [String] = []
            for try await id in try await connection.query(
                "DELETE FROM gateway_instances WHERE seen_at < \(deadBefore.milliseconds) RETURNING id", logger: logger
            ).decode(String.self) {
                dead.append(id)
            }
            if !dead.isEmpty {
                try await connection.query(
                    """
                    UPDATE calls SET outcome = 'interrupted', usage_source = 'reserved'
                    WHERE outcome = 'in_flight' AND instance = ANY(\(dead)::text[])
                    """, logger: logger)
            }
            return expired.count
        }
    }

    /// Any fixed number: the advisory lock of the instance sweeping expired leases.
    static let sweepLock: Int64 = 0x5045_5249_5357_4550

    static func bindings(_ instance: String, _ id: String, _ start: Int64, _ end: Int64?) -> PostgresBindings {
        var bindings = PostgresBindings()
        bindings.append(instance)
        bindings.append(id)
        bindings.append(start)
        bindings.append(end)
        return bindings
    }

    /// Creates the counter's pool row if missing, its spend taken from the call log's finished calls of
    /// the period (whole hours from the rollup). When the row exists the log is not read.
    static func ensurePool(_ counter: BudgetCounter, connection: PostgresConnection, logger: Logger) async throws {
        for try await _ in try await connection.query(
            "SELECT 1 FROM budget_pools WHERE counter = \(counter.description)", logger: logger)
        {
            return
        }
        let (kind, id, column) =
            switch counter.scope {
            case .key(let id): ("key", id, "key_id")
            case .environment(let name): ("env", name, "env")
            }
        var spent: Int64 = 0
        let sum = windowSpend(groupBy: column, since: counter.periodStart, until: counter.periodEnd, filter: (column, id))
        for try await row in try await connection.query(sum, logger: logger) {
            spent = try row.makeRandomAccess().value("cost")
        }
        var bindings = PostgresBindings()
        bindings.append(counter.description)
        bindings.append(kind)
        bindings.append(id)
        bindings.append(counter.periodStart.milliseconds)
        bindings.append(counter.periodEnd?.milliseconds)
        bindings.append(spent)
        try await connection.query(
            PostgresQuery(
                unsafeSQL: """
                    INSERT INTO budget_pools (counter, scope_kind, scope_id, period_start, period_end, spent_nanos)
                    VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (counter) DO NOTHING
                    """, binds: bindings), logger: logger)
    }

    /// Locks the counter's pool row and reads what it and every lease hold.
    static func lockPool(
        _ counter: BudgetCounter, instance: String, connection: PostgresConnection, logger: Logger
    ) async throws -> (standing: PoolStanding, mine: Money?) {
        var spent: Int64 = 0
        for try await value in try await connection.query(
            "SELECT spent_nanos FROM budget_pools WHERE counter = \(counter.description) FOR UPDATE", logger: logger
        ).decode(Int64.self) {
            spent = value
        }
        var committed = Money(nanos: spent)
        var othersSpent = Money(nanos: spent)
        // What each lease holds beyond what the pool has counted of it.
        var mine: Money?
        for try await (owner, granted, used, counted) in try await connection.query(
            "SELECT instance, granted_nanos, used_nanos, counted_nanos FROM budget_leases WHERE counter = \(counter.description)",
            logger: logger
        ).decode((String, Int64, Int64, Int64).self) {
            // A reclaim may have counted more than the lease reported (from the call log).
            if owner == instance {
                mine = Money(nanos: max(granted, used, counted) - counted)
            } else {
                committed += Money(nanos: max(granted, used, counted) - counted)
                othersSpent += Money(nanos: max(used, counted) - counted)
            }
        }
        return (PoolStanding(othersCommitted: committed, othersSpent: othersSpent), mine)
    }

    /// What the pool and every lease but `instance`'s hold of each named counter.
    static func standings(
        _ names: [String], apart instance: String, connection: PostgresConnection, logger: Logger
    ) async throws -> [String: PoolStanding] {
        var standings: [String: PoolStanding] = [:]
        let rows = try await connection.query(
            """
            SELECT p.counter, p.spent_nanos,
                   COALESCE(SUM(GREATEST(l.granted_nanos, l.used_nanos, l.counted_nanos) - l.counted_nanos)
                            FILTER (WHERE l.instance <> \(instance)), 0)::BIGINT,
                   COALESCE(SUM(GREATEST(l.used_nanos, l.counted_nanos) - l.counted_nanos) FILTER (WHERE l.instance <> \(instance)), 0)::BIGINT
            FROM budget_pools p LEFT JOIN budget_leases l ON l.counter = p.counter
            WHERE p.counter = ANY(\(names)::text[])
            GROUP BY p.counter, p.spent_nanos
            """, logger: logger)
        for try await (name, spent, held, used) in rows.decode((String, Int64, Int64, Int64).self) {
            standings[name] = PoolStanding(othersCommitted: Money(nanos: spent + held), othersSpent: Money(nanos: spent + used))
        }
        return standings
    }
}
