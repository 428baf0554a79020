import AsyncHTTPClient
import ServiceLifecycle

/// Shuts an AsyncHTTPClient down after the server has drained: the alert webhooks' client and the
/// secret stores' clients (Vault, AWS). Provider calls use ``UpstreamClient`` instead.
struct HTTPClientService: Service {
    let client: HTTPClient

    func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}
