import Foundation
import Logging
import NIOCore
import PerimeterCore
import PerimeterStorage
import PostgresNIO

/// Every store protocol of PerimeterStorage on PostgreSQL, for instances that share state: one
/// `PostgresClient` (a connection pool), its schema brought up to date at start under an advisory
/// lock so instances starting together migrate once. Times are integer milliseconds (UTC), as in
/// SQLite, so both backends hold the same values.
public final class PostgresStore: Sendable {
    /// The pool itself, for work that must not be cut short (the cluster lock's holder).
    let pool: PostgresClient
    /// The pool behind a deadline and a circuit breaker: every query of the stores goes through it.
    let client: GuardedClient
    let logger: Logger
    /// For the connection that listens for changes, apart from the pool.
    let connectionConfiguration: PostgresConnection.Configuration?
    /// This gateway instance, for the rows it writes and the budget leases it holds; new at each start.
    public let instance: String
    /// How long an instance may go unseen before others treat it as dead.
    public let instanceTimeout: TimeInterval
    private let runner: Task<Void, Never>

    /// Connects with `configuration`, runs the pool, and migrates. Throws when the server cannot be
    /// reached within `timeout` or the schema cannot be brought up to date; the pool is then stopped.
    public init(
        configuration: PostgresClient.Configuration, listening: PostgresConnection.Configuration? = nil, logger: Logger,
        timeout: Duration = .seconds(30), instance: String = PostgresStore.makeInstanceID(), instanceTimeout: TimeInterval = 10,
        connectionDeadline: Duration = .seconds(3)
    ) async throws {
        self.instance = instance
        self.instanceTimeout = instanceTimeout
        let client = PostgresClient(configuration: configuration)
        pool = client
        self.client = GuardedClient(pool: client, deadline: connectionDeadline)
        self.logger = logger
        connectionConfiguration = listening
        runner = Task { await client.run() }
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await PostgresSchema.migrate(client, logger: logger) }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw PostgresStartTimeout(timeout: timeout)
                }
                try await group.next()
                group.cancelAll()
            }
        } catch {
            runner.cancel()
            throw error
        }
    }

    /// A new instance id: `gw_` and 16 random characters.
    public static func makeInstanceID() -> String { "gw_" + Base62.random(count: 16) }

    /// Opens one connection and closes it: a refused connection, a wrong password or a TLS failure is
    /// reported at once (the pool would keep retrying).
    public static func checkReachable(_ configuration: PostgresConnection.Configuration, logger: Logger) async throws {
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
        try await connection.close()
    }

    /// The migrations opening the database would apply, with their statements, without applying them.
    public static func pendingMigrations(
        configuration: PostgresConnection.Configuration, logger: Logger
    ) async throws -> [(name: String, statements: [String])] {
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
        do {
            var applied: Set<String> = []
            let exists = try await connection.query("SELECT to_regclass('perimeter_migrations') IS NOT NULL", logger: logger)
            var hasTable = false
            for try await value in exists.decode(Bool.self) { hasTable = value }
            if hasTable {
                for try await name in try await connection.query("SELECT name FROM perimeter_migrations", logger: logger).decode(
                    String.self)
                {
                    applied.insert(name)
                }
            }
            try await connection.close()
            return PostgresSchema.pending(applied: applied)
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// Stops the pool; queries after this fail.
    /// Returns once the pool's connections are closed, or after `limit`: PostgresNIO's pool can wait
    /// on a connection that never reports closing, and a shutdown must not wait on it (the process
    /// exit closes its sockets). False when the limit ran out.
    @discardableResult
    public func close(within limit: Duration = .seconds(5)) async -> Bool {
        runner.cancel()
        let runner = runner
        let closed = await finishes(within: limit) { await runner.value }
        if !closed { logger.warning("the PostgreSQL connection pool did not close within \(limit); going on without it") }
        return closed
    }

    /// Runs `body` in a transaction (committed when it returns, rolled back when it throws); the error
    /// `body` threw reaches the caller as itself, not wrapped.
    func transaction<Result: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        do {
            return try await client.withTransaction(logger: logger, body)
        } catch let error as PostgresTransactionError {
            if let closureError = error.closureError, error.rollbackError == nil { throw closureError }
            throw error
        }
    }

    /// Runs one statement as given (for tests and `db` commands; never with outside input).
    package func execute(_ statement: String) async throws {
        try await client.query(PostgresQuery(unsafeSQL: statement), logger: logger)
    }

    /// The migrations applied, in order.
    public func appliedMigrations() async throws -> [String] {
        var names: [String] = []
        for try await name in try await client.query("SELECT name FROM perimeter_migrations ORDER BY name", logger: logger)
            .decode(String.self)
        {
            names.append(name)
        }
        return names
    }
}

/// The server did not answer the start-up queries in time.
public struct PostgresStartTimeout: Error, CustomStringConvertible {
    public var timeout: Duration
    public var description: String { "no answer from the server within \(timeout)" }
}

extension PostgresRandomAccessRow {
    /// The value of column `name`.
    func value<Value: PostgresDecodable>(_ name: String, as type: Value.Type = Value.self) throws -> Value {
        try self[name].decode(Value.self)
    }
}
