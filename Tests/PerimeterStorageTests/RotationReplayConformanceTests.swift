import Foundation
import PerimeterStorage
import Testing

/// The claims that keep a retried rotation from rotating twice, on every backend.
@Suite struct RotationReplayConformanceTests {
    let t0 = Date(timeIntervalSince1970: 1_764_000_000)

    func replay(lookup: String = "l1", key: String = "key_a", generation: Int = 1, at time: Date) -> RotationReplay {
        RotationReplay(lookup: lookup, keyID: key, fromGeneration: generation, claimedAt: time, expiresAt: time.addingTimeInterval(86400))
    }

    @Test(arguments: Backend.available)
    func aClaimIsTakenOnceThenAnsweredFromTheStore(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let first = replay(at: t0)
        #expect(try await store.claimRotationReplay(first, staleBefore: t0.addingTimeInterval(-60)) == .claimed)
        // A second claim while the first runs finds it unfinished.
        #expect(
            try await store.claimRotationReplay(replay(at: t0.addingTimeInterval(1)), staleBefore: t0.addingTimeInterval(-59))
                == .existing(first))
        try await store.finishRotationReplay(lookup: "l1", sealed: [1, 2, 3])
        var finished = first
        finished.sealed = [1, 2, 3]
        #expect(
            try await store.claimRotationReplay(replay(at: t0.addingTimeInterval(2)), staleBefore: t0.addingTimeInterval(-58))
                == .existing(finished))
        // A finished answer is never taken over, however old, until it expires.
        #expect(
            try await store.claimRotationReplay(replay(at: t0.addingTimeInterval(3600)), staleBefore: t0.addingTimeInterval(3000))
                == .existing(finished))
        // Abandoning a finished answer changes nothing.
        try await store.abandonRotationReplay(lookup: "l1")
        #expect(
            try await store.claimRotationReplay(replay(at: t0.addingTimeInterval(4)), staleBefore: t0) == .existing(finished))
    }

    @Test(arguments: Backend.available)
    func anAbandonedClaimIsFreeAndAnExpiredAnswerGoes(backend: Backend) async throws {
        let store = try await backend.makeStore()
        #expect(try await store.claimRotationReplay(replay(at: t0), staleBefore: t0) == .claimed)
        try await store.abandonRotationReplay(lookup: "l1")
        #expect(try await store.claimRotationReplay(replay(at: t0.addingTimeInterval(1)), staleBefore: t0) == .claimed)
        try await store.finishRotationReplay(lookup: "l1", sealed: [9])
        // A day on, the answer has expired: the Idempotency-Key may be used again.
        let dayLater = t0.addingTimeInterval(86402)
        #expect(try await store.claimRotationReplay(replay(at: dayLater), staleBefore: dayLater) == .claimed)
    }

    @Test(arguments: Backend.available)
    func aStaleClaimOfTheSameKeyIsTakenOverAndAnotherKeysIsNot(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let dead = replay(generation: 1, at: t0)
        #expect(try await store.claimRotationReplay(dead, staleBefore: t0) == .claimed)
        // Another key with the same Idempotency-Key: never taken over, even when stale.
        let other = replay(key: "key_b", at: t0.addingTimeInterval(120))
        #expect(try await store.claimRotationReplay(other, staleBefore: t0.addingTimeInterval(60)) == .existing(dead))
        // The same key, after the claimer went quiet: taken over, with what the dead claim knew.
        let next = replay(generation: 2, at: t0.addingTimeInterval(120))
        #expect(try await store.claimRotationReplay(next, staleBefore: t0.addingTimeInterval(60)) == .tookOver(previous: dead))
        #expect(try await store.claimRotationReplay(next, staleBefore: t0.addingTimeInterval(60)) == .existing(next))
    }

    @Test(arguments: Backend.available)
    func concurrentClaimsOfOneKeyLetExactlyOneThrough(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let claims = try await withThrowingTaskGroup(of: RotationReplayClaim.self) { group in
            for index in 0..<16 {
                group.addTask {
                    try await store.claimRotationReplay(
                        replay(lookup: "race", at: t0.addingTimeInterval(Double(index) / 100)), staleBefore: t0)
                }
            }
            return try await group.reduce(into: [RotationReplayClaim]()) { $0.append($1) }
        }
        #expect(claims.filter { $0 == .claimed }.count == 1)
        #expect(claims.filter { if case .existing = $0 { true } else { false } }.count == 15)
    }
}
