import ServiceLifecycle

/// Keeps cached secrets fresh: once a second it lets stores renew their logins and fetches the
/// references whose time to live is up, so requests never wait on a store.
public struct SecretRefresher: Service {
    let resolver: SecretResolver
    let tick: Duration

    public init(resolver: SecretResolver, tick: Duration = .seconds(1)) {
        self.resolver = resolver
        self.tick = tick
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: tick)
                } catch {
                    return
                }
                await resolver.maintainStores()
                await resolver.refreshDue()
            }
        }
    }
}
