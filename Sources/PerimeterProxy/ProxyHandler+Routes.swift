import Hummingbird

extension ProxyHandler {
    /// The provider-shaped routes: every endpoint of both families, and the model listing.
    package func register(on router: Router<GatewayContext>) {
        for endpoint in Endpoint.all where endpoint.operation != .models {
            router.on(RouterPath(endpoint.path), method: endpoint.method) { request, context in
                await handle(request, context: context, endpoint: endpoint)
            }
        }
        // Both SDKs list models at GET /v1/models; Anthropic's always sends `anthropic-version`.
        router.get("/v1/models") { request, context in
            await handle(request, context: context, endpoint: .models(for: request.headers))
        }
        router.get("/v1/models/:model") { request, context in
            await handle(request, context: context, endpoint: .models(for: request.headers), pathModel: context.parameters.get("model"))
        }
    }
}
