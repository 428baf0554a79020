import Foundation
import PerimeterCore
import PerimeterProxy
import PerimeterSecrets
import Testing

@testable import PerimeterRotation
@testable import PerimeterStorage

/// A rotation retried with its Idempotency-Key: on another instance, after a restart, at the same
/// moment, or after the instance that made it died. Each "instance" is a KeyRotator of its own over one store.
@Suite struct KeyRotatorReplayTests {
    let store = MemoryStore()
    let master = MasterKey.generate()

    func instance(master: MasterKey? = nil) -> KeyRotator {
        let builtIn = BuiltInSecretStore(storage: store, master: self.master)
        return KeyRotator(
            keys: store, cache: KeyCache(), targets: DeliveryTargets(builtIn: builtIn, remote: [:]), policy: RotationPolicy(),
            replays: store, masterKey: master ?? self.master)
    }

    func newKey(_ name: String = "svc") async throws -> VirtualKey {
        let (key, _) = VirtualKey.issue(name: name, env: "prod", owner: "team", now: Date())
        try await store.insert(key)
        return key
    }

    func conflict(_ body: () async throws -> Void) async -> String? {
        do {
            try await body()
            return nil
        } catch let error as GatewayError {
            return error.message
        } catch {
            return "\(error)"
        }
    }

    @Test func aRetryOnAnotherInstanceOrAfterARestartGetsTheFirstSecret() async throws {
        let key = try await newKey()
        let (first, replayed) = try await instance().rotate(id: key.id, grace: .seconds(60), idempotencyKey: "deploy-42")
        #expect(!replayed && first.key.generation == 2)
        let (again, replayedAgain) = try await instance().rotate(id: key.id, grace: .seconds(60), idempotencyKey: "deploy-42")
        #expect(replayedAgain)
        #expect(again.secret.revealed == first.secret.revealed)
        #expect(again.previousGeneration == 1 && again.previousRetiresAt == first.previousRetiresAt)
        #expect(try await store.key(id: key.id)?.generation == 2)
        // A new Idempotency-Key rotates again.
        let (third, _) = try await instance().rotate(id: key.id, grace: .zero, idempotencyKey: "deploy-43")
        #expect(third.key.generation == 3 && third.secret.revealed != first.secret.revealed)
    }

    @Test func theStoreHoldsNeitherTheIdempotencyKeyNorTheSecret() async throws {
        let key = try await newKey()
        let (rotation, _) = try await instance().rotate(id: key.id, grace: .zero, idempotencyKey: "deploy-42")
        let rows = store.state.withLock { Array($0.rotationReplays.values) }
        let row = try #require(rows.first)
        #expect(rows.count == 1 && row.lookup != "deploy-42" && !row.lookup.contains("deploy"))
        let sealed = try #require(row.sealed)
        let secret = Array(rotation.secret.revealed.utf8)
        #expect(!sealed.isEmpty)
        #expect(!(0...(sealed.count - secret.count)).contains { Array(sealed[$0..<($0 + secret.count)]) == secret })
        // Opened only with the Idempotency-Key and the master key it was sealed under.
        let seal = RotationReplaySeal(pepper: master.derivedKey(for: "rotation replay"))
        #expect(seal.open(sealed, idempotencyKey: "deploy-42", keyID: key.id)?.secret == rotation.secret.revealed)
        #expect(seal.open(sealed, idempotencyKey: "deploy-41", keyID: key.id) == nil)
        #expect(
            RotationReplaySeal(pepper: MasterKey.generate().derivedKey(for: "rotation replay")).open(
                sealed, idempotencyKey: "deploy-42", keyID: key.id) == nil)
        #expect(RotationReplaySeal(pepper: nil).lookup("deploy-42") != seal.lookup("deploy-42"))
    }

    @Test func theSameIdempotencyKeyForAnotherKeyIsRefused() async throws {
        let key = try await newKey("a")
        let other = try await newKey("b")
        _ = try await instance().rotate(id: key.id, grace: .zero, idempotencyKey: "shared")
        let message = await conflict { _ = try await instance().rotate(id: other.id, grace: .zero, idempotencyKey: "shared") }
        #expect(message?.contains("another key") == true)
        #expect(try await store.key(id: other.id)?.generation == 1)
    }

    @Test func aRefusedRotationLeavesNoClaimBehind() async throws {
        // An unknown key: the retry is refused the same way at once, not told that a rotation is running.
        for _ in 0..<2 {
            let message = await conflict {
                _ = try await instance().rotate(id: "key_0000000000000000", grace: .zero, idempotencyKey: "nope")
            }
            #expect(message?.contains("No key") == true)
        }
        // A revoked key: refused, and refused again on retry.
        let key = try await newKey()
        _ = try await store.revoke(id: key.id, at: Date())
        for _ in 0..<2 {
            let message = await conflict { _ = try await instance().rotate(id: key.id, grace: .zero, idempotencyKey: "revoked") }
            #expect(message?.contains("revoked") == true)
        }
    }

    @Test func concurrentRetriesOnTwoInstancesRotateOnce() async throws {
        let key = try await newKey()
        let (a, b) = (instance(), instance())
        let secrets = try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<12 {
                group.addTask {
                    try await (index.isMultiple(of: 2) ? a : b).rotate(id: key.id, grace: .zero, idempotencyKey: "race").0.secret.revealed
                }
            }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(secrets.count == 1)
        #expect(try await store.key(id: key.id)?.generation == 2)
    }

    @Test func aFailedRotationLeavesTheKeyFreeForARetry() async throws {
        let key = try await newKey()
        // A grace longer than 30 days is refused before anything changes; the claim is given up.
        #expect(await conflict { _ = try await instance().rotate(id: key.id, grace: .seconds(40 * 86400), idempotencyKey: "k") } != nil)
        let (rotation, replayed) = try await instance().rotate(id: key.id, grace: .zero, idempotencyKey: "k")
        #expect(!replayed && rotation.key.generation == 2)
    }

    @Test func aClaimLeftByADeadInstanceIsRetriedOrReportedLost() async throws {
        let seal = RotationReplaySeal(pepper: master.derivedKey(for: "rotation replay"))
        let longAgo = Date().addingTimeInterval(-300)
        // The dead instance claimed and died before rotating: the retry rotates.
        let untouched = try await newKey("untouched")
        _ = try await store.claimRotationReplay(
            RotationReplay(
                lookup: seal.lookup("k1"), keyID: untouched.id, fromGeneration: 1, claimedAt: longAgo,
                expiresAt: longAgo.addingTimeInterval(86400)), staleBefore: longAgo)
        let (rotation, _) = try await instance().rotate(id: untouched.id, grace: .zero, idempotencyKey: "k1")
        #expect(rotation.key.generation == 2)
        // The dead instance rotated, then died before storing the answer: the secret is gone, and the
        // retry says so rather than rotating a second time.
        let rotated = try await newKey("rotated")
        _ = try await store.claimRotationReplay(
            RotationReplay(
                lookup: seal.lookup("k2"), keyID: rotated.id, fromGeneration: 1, claimedAt: longAgo,
                expiresAt: longAgo.addingTimeInterval(86400)), staleBefore: longAgo)
        let secret = TokenFormat.makeVirtualKey(environment: "prod")
        _ = try await store.rotate(id: rotated.id) { $0.rotated(to: secret, grace: .zero, now: Date()) }
        let message = await conflict { _ = try await instance().rotate(id: rotated.id, grace: .zero, idempotencyKey: "k2") }
        #expect(message?.contains("answer was lost") == true)
        #expect(try await store.key(id: rotated.id)?.generation == 2)
        // And keeps saying so.
        #expect(await conflict { _ = try await instance().rotate(id: rotated.id, grace: .zero, idempotencyKey: "k2") } != nil)
    }
}
