import Foundation
import PerimeterCore
import PerimeterStorage
import Testing

/// Provider key snapshots round-trip on every backend, one per provider, replaced whole.
@Suite struct ProviderKeyStoreConformanceTests {
    @Test(arguments: Backend.available)
    func snapshotsRoundTripOnePerProvider(backend: Backend) async throws {
        let store = try await backend.makeStore()
        #expect(try await store.providerKeySnapshots().isEmpty)
        let t = Date(timeIntervalSince1970: 1_790_000_000)
        let key = ProviderKey(
            provider: "openai", id: "key_1", kind: "api_key", name: "ci \"quoted\" ✓", hint: "sk-proj-...abcd", owner: "ann@example.com",
            scope: "proj_1", scopeName: "Alpha", status: "active", createdAt: t, lastUsedAt: t.addingTimeInterval(60), reportsLastUse: true)
        let first = ProviderKeySnapshot(provider: "openai", attemptedAt: t, status: "ok", syncedAt: t, keys: [key])
        try await store.saveProviderKeys(first)
        try await store.saveProviderKeys(
            ProviderKeySnapshot(provider: "anthropic", attemptedAt: t, status: "refused", message: "401", syncedAt: nil, keys: []))
        #expect(try await store.providerKeySnapshots().map(\.provider) == ["anthropic", "openai"])
        #expect(try await store.providerKeySnapshots().last == first)
        var second = first
        second.keys = []
        second.status = "unreachable"
        try await store.saveProviderKeys(second)
        #expect(try await store.providerKeySnapshots().last == second)
    }
}
