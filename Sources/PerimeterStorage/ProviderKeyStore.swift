import Foundation
import PerimeterCore

/// What the last sync of one provider's own key list found: the keys (as of the last sync that
/// succeeded) and how the latest attempt went, so every instance and the CLI see the same list.
public struct ProviderKeySnapshot: Codable, Sendable, Hashable {
    public var provider: String
    /// The latest attempt, successful or not.
    public var attemptedAt: Date
    /// `ok`, `refused` (the provider turned the admin credential away), `unreachable` or `error`.
    public var status: String
    /// Why the latest attempt failed, in words fit for an operator (never a secret).
    public var message: String?
    /// When `keys` was read; nil before the first successful sync.
    public var syncedAt: Date?
    public var keys: [ProviderKey]

    public init(provider: String, attemptedAt: Date, status: String, message: String? = nil, syncedAt: Date?, keys: [ProviderKey]) {
        self.provider = provider
        self.attemptedAt = attemptedAt
        self.status = status
        self.message = message
        self.syncedAt = syncedAt
        self.keys = keys
    }

    enum CodingKeys: String, CodingKey {
        case provider, attemptedAt = "attempted_at", status, message, syncedAt = "synced_at", keys
    }
}

/// The provider key lists, one snapshot per provider, replaced whole by each sync.
public protocol ProviderKeyStore: Sendable {
    func saveProviderKeys(_ snapshot: ProviderKeySnapshot) async throws
    /// Every provider's snapshot, by provider name.
    func providerKeySnapshots() async throws -> [ProviderKeySnapshot]
}

extension MemoryStore: ProviderKeyStore {
    public func saveProviderKeys(_ snapshot: ProviderKeySnapshot) async throws {
        providerKeys.withLock { $0[snapshot.provider] = snapshot }
    }

    public func providerKeySnapshots() async throws -> [ProviderKeySnapshot] {
        providerKeys.withLock { $0.values.sorted { $0.provider < $1.provider } }
    }
}
