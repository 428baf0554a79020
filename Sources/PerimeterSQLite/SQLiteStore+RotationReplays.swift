import Foundation
import GRDB
import PerimeterStorage

// Rotations' replay answers, in SQLite: each claim is one write transaction.

extension SQLiteStore: RotationReplayStore {
    public func claimRotationReplay(_ replay: RotationReplay, staleBefore: Date) async throws -> RotationReplayClaim {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM rotation_replays WHERE expires_at <= ?", arguments: [replay.claimedAt.milliseconds])
            let arguments: StatementArguments = [
                replay.keyID, replay.fromGeneration, replay.claimedAt.milliseconds, replay.expiresAt.milliseconds, replay.lookup,
            ]
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM rotation_replays WHERE lookup = ?", arguments: [replay.lookup])
            else {
                try db.execute(
                    sql: """
                        INSERT INTO rotation_replays (key_id, from_generation, claimed_at, expires_at, lookup) VALUES (?, ?, ?, ?, ?)
                        """, arguments: arguments)
                return .claimed
            }
            let existing = Self.rotationReplay(row)
            guard existing.isStale(for: replay, staleBefore: staleBefore) else { return .existing(existing) }
            try db.execute(
                sql: "UPDATE rotation_replays SET key_id = ?, from_generation = ?, claimed_at = ?, expires_at = ? WHERE lookup = ?",
                arguments: arguments)
            return .tookOver(previous: existing)
        }
    }

    public func finishRotationReplay(lookup: String, sealed: [UInt8]) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE rotation_replays SET sealed = ? WHERE lookup = ?", arguments: [Data(sealed), lookup])
        }
    }

    public func abandonRotationReplay(lookup: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM rotation_replays WHERE lookup = ? AND sealed IS NULL", arguments: [lookup])
        }
    }

    static func rotationReplay(_ row: Row) -> RotationReplay {
        RotationReplay(
            lookup: row["lookup"], keyID: row["key_id"], fromGeneration: row["from_generation"],
            claimedAt: Date(milliseconds: row["claimed_at"]), expiresAt: Date(milliseconds: row["expires_at"]),
            sealed: (row["sealed"] as Data?).map { [UInt8]($0) })
    }
}
