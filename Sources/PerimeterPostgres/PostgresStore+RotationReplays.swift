import Foundation
import NIOCore
import PerimeterStorage
import PostgresNIO

// Rotations' replay answers on PostgreSQL: a claim is one transaction, so of two instances given the
// same Idempotency-Key at once, one rotates and the other finds its claim.

extension PostgresStore: RotationReplayStore {
    public func claimRotationReplay(_ replay: RotationReplay, staleBefore: Date) async throws -> RotationReplayClaim {
        let logger = logger
        return try await transaction { connection in
            try await connection.query("DELETE FROM rotation_replays WHERE expires_at <= \(replay.claimedAt.milliseconds)", logger: logger)
            // Twice at most: a claim abandoned between the insert and the select leaves the row free again.
            var found: RotationReplay?
            for _ in 0..<2 where found == nil {
                let inserted = try await connection.query(
                    """
                    INSERT INTO rotation_replays (lookup, key_id, from_generation, claimed_at, expires_at)
                    VALUES (\(replay.lookup), \(replay.keyID), \(replay.fromGeneration), \(replay.claimedAt.milliseconds),
                            \(replay.expiresAt.milliseconds))
                    ON CONFLICT (lookup) DO NOTHING RETURNING lookup
                    """, logger: logger)
                for try await _ in inserted { return .claimed }
                for try await row in try await connection.query(
                    "SELECT * FROM rotation_replays WHERE lookup = \(replay.lookup) FOR UPDATE", logger: logger)
                {
                    found = try Self.rotationReplay(row.makeRandomAccess())
                }
            }
            guard let existing = found else { throw StoreConflict("the claim of \(replay.lookup) kept changing") }
            guard existing.isStale(for: replay, staleBefore: staleBefore) else { return .existing(existing) }
            try await connection.query(
                """
                UPDATE rotation_replays SET key_id = \(replay.keyID), from_generation = \(replay.fromGeneration),
                    claimed_at = \(replay.claimedAt.milliseconds), expires_at = \(replay.expiresAt.milliseconds)
                WHERE lookup = \(replay.lookup)
                """, logger: logger)
            return .tookOver(previous: existing)
        }
    }

    public func finishRotationReplay(lookup: String, sealed: [UInt8]) async throws {
        try await client.query(
            "UPDATE rotation_replays SET sealed = \(ByteBuffer(bytes: sealed)) WHERE lookup = \(lookup)", logger: logger)
    }

    public func abandonRotationReplay(lookup: String) async throws {
        try await client.query("DELETE FROM rotation_replays WHERE lookup = \(lookup) AND sealed IS NULL", logger: logger)
    }

    static func rotationReplay(_ row: PostgresRandomAccessRow) throws -> RotationReplay {
        RotationReplay(
            lookup: try row.value("lookup"), keyID: try row.value("key_id"), fromGeneration: try row.value("from_generation"),
            claimedAt: Date(milliseconds: try row.value("claimed_at")), expiresAt: Date(milliseconds: try row.value("expires_at")),
            sealed: try row.value("sealed", as: ByteBuffer?.self).map { Array($0.readableBytesView) })
    }
}
