import Foundation
import Logging
import PostgresNIO
import Synchronization

/// The connection pool behind a deadline and a circuit breaker. PostgresNIO's pool queues a request
/// for as long as the server cannot be reached; a gateway must not: a call-log write, a lease renewal
/// or a key lookup fails after `deadline`, and once one has failed for want of the server, the next
/// fail at once (`DatabaseUnavailable`) while one probe a second finds out whether it is back.
final class GuardedClient: Sendable {
    let pool: PostgresClient
    let deadline: Duration
    let probeInterval: Duration
    /// How long a begun transaction may run before it is given up and its connection closed: longer
    /// than any wait the server allows it (the session's `lock_timeout`), so only a connection whose
    /// answer was lost (seen when the server restarts under load) reaches it.
    let transactionLimit: Duration
    private let state = Mutex(Breaker())

    struct Breaker {
        /// When an operation last failed for want of the server; nil while it answers.
        var downSince: ContinuousClock.Instant?
        var lastProbe: ContinuousClock.Instant?
    }

    init(
        pool: PostgresClient, deadline: Duration = .seconds(3), probeInterval: Duration = .seconds(1),
        transactionLimit: Duration = .seconds(15)
    ) {
        self.pool = pool
        self.transactionLimit = transactionLimit
        self.deadline = deadline
        self.probeInterval = probeInterval
    }

    /// Whether the server is taken to be away.
    var isDown: Bool { state.withLock { $0.downSince != nil } }

    @discardableResult
    func query(
        _ query: PostgresQuery, logger: Logger, file: String = #fileID, line: Int = #line
    ) async throws -> PostgresRowSequence {
        try await run(logger: logger, at: "\(file):\(line)") { pool in try await pool.query(query, logger: logger) }
    }

    /// A transaction: the deadline bounds the wait for a connection. Once it has begun it runs to its
    /// end (bounded by the session's statement and lock timeouts), unless it outlasts
    /// ``transactionLimit``: then its connection is closed (the server rolls back whatever was not
    /// committed, and the pool drops the connection) and the caller gets ``DatabaseUnavailable``. The
    /// work done through this client is idempotent or reconciled, as after any lost answer.
    func withTransaction<Result: Sendable>(
        logger: Logger, file: String = #fileID, line: Int = #line,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let begun = Flag()
        return try await run(begun: begun, logger: logger, at: "\(file):\(line)") { pool in
            try await pool.withConnection { connection in
                begun.set(connection)
                return try await connection.withTransaction(logger: logger) { connection in try await body(connection) }
            }
        }
    }

    /// Set once an operation holds its connection: the deadline no longer applies, the transaction
    /// limit does.
    final class Flag: Sendable {
        private let held = Mutex<PostgresConnection?>(nil)
        func set(_ connection: PostgresConnection) { held.withLock { $0 = connection } }
        var isSet: Bool { held.withLock { $0 != nil } }
        var connection: PostgresConnection? { held.withLock { $0 } }
    }

    /// Runs `operation` within the deadline (until `begun` is set, when given), unless the breaker is
    /// open and no probe is due. The caller is let go at the deadline or at its cancellation (before
    /// `begun`) without waiting for the operation to notice: the operation is cancelled and ends on its
    /// own, so a lease request the pool never answers cannot hold a caller (or a shutdown).
    func run<Result: Sendable>(
        begun: Flag? = nil, logger: Logger, at caller: String = #fileID,
        _ operation: @escaping @Sendable (PostgresClient) async throws -> Result
    ) async throws -> Result {
        let now = ContinuousClock.now
        let admitted = state.withLock { breaker -> Bool in
            guard breaker.downSince != nil else { return true }
            if let last = breaker.lastProbe, now - last < probeInterval { return false }
            breaker.lastProbe = now
            return true
        }
        guard admitted else { throw DatabaseUnavailable() }
        let pool = pool
        let deadline = deadline
        let limit = transactionLimit
        let race = Race<Result>()
        do {
            let result = try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { continuation in
                    race.start(
                        continuation,
                        work: Task {
                            do { race.finish(.success(try await operation(pool))) } catch { race.finish(.failure(error)) }
                        },
                        timer: Task {
                            try await Task.sleep(for: deadline)
                            if !(begun?.isSet ?? false) {
                                race.abandon(DatabaseUnavailable(timedOut: deadline))
                                return
                            }
                            try await Task.sleep(for: limit - deadline)
                            guard !race.isFinished, let connection = begun?.connection else { return }
                            logger.warning(
                                "a database transaction outlasted \(limit); its connection is closed",
                                metadata: ["perimeter.caller": "\(caller)"])
                            race.abandon(DatabaseUnavailable(timedOut: limit))
                            try? await connection.close()
                        })
                }
            } onCancel: {
                if !(begun?.isSet ?? false) { race.abandon(CancellationError()) }
            }
            state.withLock { $0.downSince = nil }
            return result
        } catch {
            if Self.meansUnreachable(error) {
                // The next probe is a second after this failure, not after this attempt began: an
                // attempt can take the whole deadline, and work done one step after another (a
                // shutdown) must not make every step a probe that waits that long.
                let failed = ContinuousClock.now
                state.withLock { breaker in
                    if breaker.downSince == nil { breaker.downSince = now }
                    breaker.lastProbe = failed
                }
            } else {
                // The server answered (with an SQL error): it is there.
                state.withLock { $0.downSince = nil }
            }
            throw error
        }
    }

    /// A timeout, a connection that could not be made or was closed, or the server shutting down
    /// (SQLSTATE classes 08 and 57), as opposed to an error in the statement.
    static func meansUnreachable(_ error: any Error) -> Bool {
        if error is DatabaseUnavailable { return true }
        if let transaction = error as? PostgresTransactionError {
            return [transaction.beginError, transaction.closureError, transaction.commitError].contains {
                $0.map(meansUnreachable) ?? false
            }
        }
        // Anything else (a conflict a store reports, a caller's cancellation) says nothing of the server.
        guard let error = error as? PSQLError else { return false }
        if let state = error.serverInfo?[.sqlState] { return state.hasPrefix("08") || state.hasPrefix("57") }
        return error.code != .server
    }
}

/// One operation racing its deadline and its caller's cancellation: whichever comes first resumes
/// the caller, once; giving up cancels the operation (and the timer, once the operation ends).
private final class Race<Result: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Result, any Error>?
        var work: Task<Void, Never>?
        var timer: Task<Void, any Error>?
        var isFinished = false
        /// Settled before the continuation was handed over: given up, or the operation's own end.
        var early: Swift.Result<Result, any Error>?
    }

    private let state = Mutex(State())

    var isFinished: Bool { state.withLock { $0.isFinished } }

    func start(_ continuation: CheckedContinuation<Result, any Error>, work: Task<Void, Never>, timer: Task<Void, any Error>) {
        let early = state.withLock { state -> Swift.Result<Result, any Error>? in
            state.work = work
            state.timer = timer
            if let early = state.early { return early }
            state.continuation = continuation
            return nil
        }
        if let early {
            work.cancel()
            timer.cancel()
            continuation.resume(with: early)
        }
    }

    /// The operation's own end.
    func finish(_ result: Swift.Result<Result, any Error>) {
        let (continuation, timer) = state.withLock { state in
            state.isFinished = true
            if state.continuation == nil, state.early == nil { state.early = result }
            defer { state.continuation = nil }
            return (state.continuation, state.timer)
        }
        timer?.cancel()
        continuation?.resume(with: result)
    }

    /// The deadline or the caller's cancellation: the caller goes on with `error`; the operation is cancelled.
    func abandon(_ error: any Error) {
        let (continuation, work) = state.withLock { state in
            if state.continuation == nil, state.early == nil { state.early = .failure(error) }
            defer { state.continuation = nil }
            return (state.continuation, state.work)
        }
        work?.cancel()
        continuation?.resume(throwing: error)
    }
}

/// The database did not answer in time, or is taken to be away after such a failure.
public struct DatabaseUnavailable: Error, CustomStringConvertible {
    var timedOut: Duration?

    public var description: String {
        timedOut.map { "the database did not answer within \($0)" } ?? "the database is unavailable (a probe runs every second)"
    }
}
