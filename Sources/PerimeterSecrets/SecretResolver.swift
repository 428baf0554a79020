import Foundation
import PerimeterCore
import Synchronization

/// Resolves references through the store for their scheme and keeps each value for `timeToLive`, so
/// the request path reads memory and a rotated secret still takes effect within that time.
public final class SecretResolver: Sendable {
    private let stores: [String: any SecretStore]
    private let timeToLive: Duration
    private let cache = Mutex<[SecretReference: (secret: Secret, expires: ContinuousClock.Instant)]>([:])

    public init(stores: [String: any SecretStore], timeToLive: Duration = .seconds(30)) {
        self.stores = stores
        self.timeToLive = timeToLive
    }

    /// `env:` and `file:` on the real environment and file system.
    public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment) -> SecretResolver {
        SecretResolver(stores: ["env": EnvironmentSecretStore(environment: environment), "file": FileSecretStore()])
    }

    public func secret(for reference: SecretReference) async throws -> Secret {
        let now = ContinuousClock.now
        if let cached = cache.withLock({ $0[reference] }), cached.expires > now {
            return cached.secret
        }
        guard let store = stores[reference.scheme] else { throw SecretStoreError.noStore(scheme: reference.scheme) }
        let secret = try await store.secret(for: reference)
        cache.withLock { $0[reference] = (secret, now + timeToLive) }
        return secret
    }

    /// Forgets cached values, so the next request reads each store again.
    public func invalidate() {
        cache.withLock { $0.removeAll() }
    }
}
