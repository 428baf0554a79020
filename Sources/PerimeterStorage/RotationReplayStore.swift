import Foundation

/// A key rotation asked with an Idempotency-Key, kept for a day so that a retry (to this instance or
/// another, before or after a restart) gets the first answer instead of rotating again.
///
/// The store never sees the Idempotency-Key or the new secret in the clear: `lookup` is a keyed hash
/// of the Idempotency-Key, and `sealed` is the answer encrypted under a key derived from it.
public struct RotationReplay: Sendable, Hashable {
    public var lookup: String
    public var keyID: String
    /// The key's generation when the rotation was claimed. An unfinished claim whose key has moved past
    /// it was applied and its answer lost.
    public var fromGeneration: Int
    public var claimedAt: Date
    public var expiresAt: Date
    /// The sealed answer; `nil` while the rotation runs, empty when its answer was lost.
    public var sealed: [UInt8]?

    public init(lookup: String, keyID: String, fromGeneration: Int, claimedAt: Date, expiresAt: Date, sealed: [UInt8]? = nil) {
        self.lookup = lookup
        self.keyID = keyID
        self.fromGeneration = fromGeneration
        self.claimedAt = claimedAt
        self.expiresAt = expiresAt
        self.sealed = sealed
    }
}

/// What claiming an Idempotency-Key found.
public enum RotationReplayClaim: Sendable, Hashable {
    /// No live entry: this caller rotates, then finishes or abandons the claim.
    case claimed
    /// An entry for the lookup: a finished answer, a rotation still running, or another key's.
    case existing(RotationReplay)
    /// An unfinished claim of the same key older than `staleBefore` (its claimer died): this caller
    /// holds the claim now; `previous` says whether the earlier attempt had already rotated the key.
    case tookOver(previous: RotationReplay)
}

/// Where rotations' replay answers live, shared by every instance of the store.
public protocol RotationReplayStore: Sendable {
    /// Claims `replay.lookup` atomically. Entries past their expiry are removed first.
    func claimRotationReplay(_ replay: RotationReplay, staleBefore: Date) async throws -> RotationReplayClaim
    /// Stores the sealed answer of a claimed rotation (empty: the answer was lost).
    func finishRotationReplay(lookup: String, sealed: [UInt8]) async throws
    /// Drops an unfinished claim: the rotation failed before it changed anything.
    func abandonRotationReplay(lookup: String) async throws
}

extension RotationReplay {
    /// The decision every backend makes on an existing entry, under its own lock or transaction:
    /// taken over when unfinished, of the same key and older than `staleBefore`.
    public func isStale(for claim: RotationReplay, staleBefore: Date) -> Bool {
        sealed == nil && keyID == claim.keyID && claimedAt < staleBefore
    }
}
