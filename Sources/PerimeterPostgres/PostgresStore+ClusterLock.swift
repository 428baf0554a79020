import PerimeterStorage
import PostgresNIO

extension PostgresStore: ClusterLock {
    /// A session-level advisory lock on one pooled connection, held while `body` runs: if this instance
    /// dies its session ends and PostgreSQL lets the lock go.
    public func ifFree<T: Sendable>(_ id: Int64, _ body: @Sendable () async throws -> T) async throws -> T? {
        // Straight on the pool: the holder's work must not be cut off by a deadline.
        try await pool.withConnection { connection in
            var isHeld = false
            for try await taken in try await connection.query("SELECT pg_try_advisory_lock(\(id))", logger: logger).decode(Bool.self) {
                isHeld = taken
            }
            guard isHeld else { return nil }
            let result: Result<T, any Error>
            do {
                result = .success(try await body())
            } catch {
                result = .failure(error)
            }
            _ = try? await connection.query("SELECT pg_advisory_unlock(\(id))", logger: logger)
            return try result.get()
        }
    }
}
