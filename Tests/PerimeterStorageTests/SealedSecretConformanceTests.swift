import Foundation
import PerimeterCore
import PerimeterStorage
import Testing

/// The built-in secret store's durable half, on every backend: versions are appended, never changed;
/// the latest is the highest; a version written twice is refused; nothing but ciphertext is kept.
@Suite struct SealedSecretConformanceTests {
    static let t0 = Date(timeIntervalSince1970: 1_764_000_000)

    func sealed(_ name: String, version: Int, at offset: TimeInterval, master: String = "mk_1") -> SealedSecret {
        SealedSecret(
            name: name, version: version, createdAt: Self.t0.addingTimeInterval(offset), masterKeyID: master,
            wrappedKey: Array("wrapped-\(name)-\(version)".utf8), ciphertext: Array("sealed-\(name)-\(version)".utf8))
    }

    @Test(arguments: Backend.available)
    func versionsAppendAndTheHighestIsLatest(backend: Backend) async throws {
        let store = try await backend.makeStore()
        #expect(try await store.latestSealedSecret(name: "openai") == nil)
        try await store.appendSealedSecret(sealed("openai", version: 1, at: 0))
        try await store.appendSealedSecret(sealed("openai", version: 2, at: 60, master: "mk_2"))
        try await store.appendSealedSecret(sealed("anthropic", version: 1, at: 30))
        #expect(try await store.latestSealedSecret(name: "openai") == sealed("openai", version: 2, at: 60, master: "mk_2"))
        #expect(try await store.latestSealedSecret(name: "anthropic") == sealed("anthropic", version: 1, at: 30))
    }

    @Test(arguments: Backend.available)
    func aVersionWrittenTwiceIsRefusedAndTheFirstKept(backend: Backend) async throws {
        let store = try await backend.makeStore()
        try await store.appendSealedSecret(sealed("openai", version: 1, at: 0))
        var second = sealed("openai", version: 1, at: 5)
        second.ciphertext = Array("other".utf8)
        await #expect(throws: SealedSecretStoreError.versionExists(name: "openai", version: 1)) {
            try await store.appendSealedSecret(second)
        }
        #expect(try await store.latestSealedSecret(name: "openai") == sealed("openai", version: 1, at: 0))
    }

    @Test(arguments: Backend.available)
    func summariesByNameWithFirstAndLatestTimes(backend: Backend) async throws {
        let store = try await backend.makeStore()
        try await store.appendSealedSecret(sealed("openai", version: 1, at: 0))
        try await store.appendSealedSecret(sealed("openai", version: 2, at: 60, master: "mk_2"))
        try await store.appendSealedSecret(sealed("anthropic", version: 1, at: 30))
        #expect(
            try await store.sealedSecretSummaries() == [
                SealedSecretSummary(
                    name: "anthropic", latestVersion: 1, versions: 1, createdAt: Self.t0.addingTimeInterval(30),
                    updatedAt: Self.t0.addingTimeInterval(30), masterKeyID: "mk_1"),
                SealedSecretSummary(
                    name: "openai", latestVersion: 2, versions: 2, createdAt: Self.t0, updatedAt: Self.t0.addingTimeInterval(60),
                    masterKeyID: "mk_2"),
            ])
    }

    @Test(arguments: Backend.available)
    func deletingRemovesEveryVersionAndSaysHowMany(backend: Backend) async throws {
        let store = try await backend.makeStore()
        try await store.appendSealedSecret(sealed("openai", version: 1, at: 0))
        try await store.appendSealedSecret(sealed("openai", version: 2, at: 60))
        try await store.appendSealedSecret(sealed("anthropic", version: 1, at: 30))
        #expect(try await store.deleteSealedSecret(name: "openai") == 2)
        #expect(try await store.deleteSealedSecret(name: "openai") == 0)
        #expect(try await store.latestSealedSecret(name: "openai") == nil)
        #expect(try await store.sealedSecretSummaries().map(\.name) == ["anthropic"])
        // A deleted name starts again at any version.
        try await store.appendSealedSecret(sealed("openai", version: 1, at: 90))
        #expect(try await store.latestSealedSecret(name: "openai")?.createdAt == Self.t0.addingTimeInterval(90))
    }
}
