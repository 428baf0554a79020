import Foundation
import Hummingbird
import PerimeterCore
import PerimeterProviders

extension ProxyHandler {
    /// The provider-shaped routes: every endpoint of both families, and the model listing.
    package func register(on router: Router<GatewayContext>) {
        for endpoint in Endpoint.all where endpoint.operation != .models {
            router.on(RouterPath(endpoint.path), method: endpoint.method) { request, context in
                await handle(request, context: context, endpoint: endpoint)
            }
        }
        // The SDKs list models at GET /v1/models; Anthropic's always sends `anthropic-version`, Gemini's its key
        // in `x-goog-api-key` or `?key=`.
        router.get("/v1/models") { request, context in
            await handle(request, context: context, endpoint: .models(for: request.headers, query: request.uri.query))
        }
        router.get("/v1/models/:model") { request, context in
            await handle(
                request, context: context, endpoint: .models(for: request.headers, query: request.uri.query),
                pathModel: context.parameters.get("model"))
        }
        // Azure OpenAI's shape (the AzureOpenAI client): a deployment in the path, or as the body's model
        // under /openai/v1; the virtual key in `api-key`. Served by Azure resources only.
        for (operation, endpoint) in [("chat/completions", Endpoint.azureChat), ("embeddings", .azureEmbeddings)] {
            router.post(RouterPath("/openai/deployments/:deployment/\(operation)")) { request, context in
                let deployment = context.parameters.get("deployment") ?? ""
                guard AzureResource.isDeploymentName(deployment) else {
                    return GatewayError.invalidRequest("'\(deployment.prefix(64))' is not a deployment name.").response(format: .openAI)
                }
                return await handle(request, context: context, endpoint: endpoint, pathModel: deployment)
            }
            router.post(RouterPath("/openai/v1/\(operation)")) { request, context in
                await handle(request, context: context, endpoint: endpoint)
            }
        }
        // Gemini: POST /v1beta/models/{model}:{method} (and /v1/), and its model list at /v1beta/models.
        for prefix in ["/v1beta", "/v1"] {
            // One parameter name with the model list's route beside it (the router requires it): `{model}:{method}`.
            router.post(RouterPath("\(prefix)/models/:model")) { request, context in
                let endpoint: Endpoint
                let model: String
                do throws(GatewayError) {
                    (endpoint, model) = try GeminiRoute.endpoint(action: context.parameters.get("model") ?? "")
                } catch {
                    return error.response(format: .gemini)
                }
                return await handle(request, context: context, endpoint: endpoint, pathModel: model)
            }
        }
        // Bedrock: POST /model/{modelId}/{action}, the id percent-encoded as the AWS SDKs send it.
        for (action, endpoint) in BedrockRoute.endpoints {
            router.post(RouterPath("/model/:modelId/\(action)")) { request, context in
                let raw = context.parameters.get("modelId") ?? ""
                return await handle(request, context: context, endpoint: endpoint, pathModel: raw.removingPercentEncoding ?? raw)
            }
        }
        router.get("/v1beta/models") { request, context in
            await handle(request, context: context, endpoint: .geminiModels)
        }
        router.get("/v1beta/models/:model") { request, context in
            await handle(request, context: context, endpoint: .geminiModels, pathModel: context.parameters.get("model"))
        }
    }
}
