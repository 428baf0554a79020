import Foundation
import Logging
import PostgresNIO
import Testing

@testable import PerimeterPostgres

/// The bounds in front of the PostgresNIO pool: a caller is let go at the deadline or at its own
/// cancellation however long the pool takes, and a begun transaction that outlasts its limit is cut
/// off with its connection, after which the pool serves again.
@Suite struct GuardedClientTests {
    private static let logger = Logger(label: "test")

    /// A pool aimed at a port nothing listens on keeps retrying its connection; the caller does not wait.
    @Test func aCallerIsLetGoAtTheDeadlineWhileThePoolCannotConnect() async throws {
        let pool = PostgresClient(
            configuration: .init(host: "127.0.0.1", port: 1, username: "x", password: nil, database: "x", tls: .disable))
        let runner = Task { await pool.run() }
        defer { runner.cancel() }
        let guarded = GuardedClient(pool: pool, deadline: .milliseconds(300), probeInterval: .seconds(60))
        let clock = ContinuousClock()
        let started = clock.now
        await #expect(throws: DatabaseUnavailable.self) { try await guarded.query("SELECT 1", logger: Self.logger) }
        #expect(clock.now - started < .seconds(3))
        // The breaker is open now: the next caller fails at once, without a probe.
        let again = clock.now
        await #expect(throws: DatabaseUnavailable.self) { try await guarded.query("SELECT 1", logger: Self.logger) }
        #expect(clock.now - again < .milliseconds(200))
        #expect(guarded.isDown)
    }

    @Test func aCancelledCallerIsLetGoAtOnce() async throws {
        let pool = PostgresClient(
            configuration: .init(host: "127.0.0.1", port: 1, username: "x", password: nil, database: "x", tls: .disable))
        let runner = Task { await pool.run() }
        defer { runner.cancel() }
        let guarded = GuardedClient(pool: pool, deadline: .seconds(60))
        let clock = ContinuousClock()
        let started = clock.now
        let caller = Task { try await guarded.withTransaction(logger: Self.logger) { _ in 1 } }
        try await Task.sleep(for: .milliseconds(200))
        caller.cancel()
        await #expect(throws: CancellationError.self) { _ = try await caller.value }
        #expect(clock.now - started < .seconds(5))
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["POSTGRES_URL"]?.isEmpty == false))
    func aTransactionOutlastingItsLimitIsCutOffAndThePoolServesAgain() async throws {
        let pool = PostgresClient(configuration: try PostgresTestServer.location.clientConfiguration(password: nil))
        let runner = Task { await pool.run() }
        defer { runner.cancel() }
        let guarded = GuardedClient(pool: pool, deadline: .seconds(20), transactionLimit: .seconds(22))
        // Begun, then silent for longer than the limit (as a connection whose answer was lost is).
        let short = GuardedClient(pool: pool, deadline: .seconds(1), transactionLimit: .seconds(2))
        let clock = ContinuousClock()
        let started = clock.now
        await #expect(throws: DatabaseUnavailable.self) {
            try await short.withTransaction(logger: Self.logger) { connection in
                try await connection.query("SELECT pg_sleep(20)", logger: Self.logger)
            }
        }
        #expect(clock.now - started < .seconds(8))
        let answer = try await guarded.withTransaction(logger: Self.logger) { connection in
            var values: [Int] = []
            for try await value in try await connection.query("SELECT 7", logger: Self.logger).decode(Int.self) { values.append(value) }
            return values
        }
        #expect(answer == [7])
    }
}
