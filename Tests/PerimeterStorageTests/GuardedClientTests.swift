import Foundation
import Logging
import PostgresNIO
import Synchronization
import Testing

@testable import PerimeterPostgres

/// The bounds in front of the PostgresNIO pool: a caller is let go at the deadline or at its own
/// cancellation however long the pool takes, and a begun transaction that outlasts its limit is cut
/// off with its connection, after which the pool serves again.
@Suite struct GuardedClientTests {
    private static let logger = Logger(label: "test")

    /// An operation that never ends and ignores its cancellation (as a lease request the pool lost would).
    static func forever(_ calls: Counter) async throws -> Int {
        calls.add()
        await withCheckedContinuation { (_: CheckedContinuation<Void, Never>) in }
        return 0
    }

    final class Counter: Sendable {
        private let value = Atomic<Int>(0)
        func add() { value.add(1, ordering: .relaxed) }
        var count: Int { value.load(ordering: .relaxed) }
    }

    static func unreachablePool() -> PostgresClient {
        PostgresClient(configuration: .init(host: "127.0.0.1", port: 1, username: "x", password: nil, database: "x", tls: .disable))
    }

    @Test(.timeLimit(.minutes(1)))
    func aCallerIsLetGoAtTheDeadlineThoughTheOperationNeverEnds() async throws {
        let guarded = GuardedClient(pool: Self.unreachablePool(), deadline: .milliseconds(100), probeInterval: .seconds(3600))
        let calls = Counter()
        await #expect(throws: DatabaseUnavailable.self) {
            try await guarded.run(logger: Self.logger) { _ in try await Self.forever(calls) }
        }
        // The breaker is open now: the next caller fails without trying.
        await #expect(throws: DatabaseUnavailable.self) {
            try await guarded.run(logger: Self.logger) { _ in try await Self.forever(calls) }
        }
        #expect(calls.count == 1 && guarded.isDown)
    }

    @Test(.timeLimit(.minutes(1)))
    func aCancelledCallerIsLetGoThoughTheOperationNeverEnds() async throws {
        let guarded = GuardedClient(pool: Self.unreachablePool(), deadline: .seconds(3600))
        let calls = Counter()
        let caller = Task { try await guarded.run(logger: Self.logger) { _ in try await Self.forever(calls) } }
        while calls.count == 0 { await Task.yield() }
        caller.cancel()
        await #expect(throws: CancellationError.self) { _ = try await caller.value }
    }

    /// The pool itself, aimed at a port nothing listens on, keeps retrying its connection; the caller does not wait.
    @Test(.timeLimit(.minutes(1)))
    func aCallerIsLetGoWhileThePoolCannotConnect() async throws {
        let pool = Self.unreachablePool()
        let runner = Task { await pool.run() }
        defer { runner.cancel() }
        let guarded = GuardedClient(pool: pool, deadline: .milliseconds(300))
        await #expect(throws: DatabaseUnavailable.self) { try await guarded.query("SELECT 1", logger: Self.logger) }
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["POSTGRES_URL"]?.isEmpty == false), .timeLimit(.minutes(1)))
    func aTransactionOutlastingItsLimitIsCutOffAndThePoolServesAgain() async throws {
        let pool = PostgresClient(configuration: try PostgresTestServer.location.clientConfiguration(password: nil))
        let runner = Task { await pool.run() }
        defer { runner.cancel() }
        let guarded = GuardedClient(pool: pool, deadline: .seconds(20), transactionLimit: .seconds(22))
        // Begun, then silent for longer than the limit (as a connection whose answer was lost is).
        let short = GuardedClient(pool: pool, deadline: .seconds(1), transactionLimit: .seconds(2))
        // Were it not cut off, the transaction would end normally after 20 s.
        await #expect(throws: DatabaseUnavailable.self) {
            try await short.withTransaction(logger: Self.logger) { connection in
                try await connection.query("SELECT pg_sleep(20)", logger: Self.logger)
            }
        }
        let answer = try await guarded.withTransaction(logger: Self.logger) { connection in
            var values: [Int] = []
            for try await value in try await connection.query("SELECT 7", logger: Self.logger).decode(Int.self) { values.append(value) }
            return values
        }
        #expect(answer == [7])
    }
}
