import Foundation

extension MemoryStore {
    public func claimRotationReplay(_ replay: RotationReplay, staleBefore: Date) async throws -> RotationReplayClaim {
        state.withLock { state in
            state.rotationReplays = state.rotationReplays.filter { $0.value.expiresAt > replay.claimedAt }
            guard let existing = state.rotationReplays[replay.lookup] else {
                state.rotationReplays[replay.lookup] = replay
                return .claimed
            }
            guard existing.isStale(for: replay, staleBefore: staleBefore) else { return .existing(existing) }
            state.rotationReplays[replay.lookup] = replay
            return .tookOver(previous: existing)
        }
    }

    public func finishRotationReplay(lookup: String, sealed: [UInt8]) async throws {
        state.withLock { $0.rotationReplays[lookup]?.sealed = sealed }
    }

    public func abandonRotationReplay(lookup: String) async throws {
        state.withLock { state in
            if state.rotationReplays[lookup]?.sealed == nil { state.rotationReplays[lookup] = nil }
        }
    }
}
