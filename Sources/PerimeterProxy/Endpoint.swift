import HTTPTypes
import PerimeterCore
import PerimeterProviders

/// One client route of the proxy and what the gateway needs to know to serve it.
package struct Endpoint: Sendable {
    package var method: HTTPRequest.Method
    package var path: String
    package var kind: ProviderKind
    package var operation: CallOperation
    package var usageFormat: UsageFormat
    package var hasBody: Bool
    /// The route itself asks for a stream (Gemini's `:streamGenerateContent`), not a body field.
    package var isStreamRoute = false
    /// Azure OpenAI's own shape (`/openai/deployments/{deployment}/...`): only Azure resources serve it.
    package var isAzureRoute = false

    /// The JSON shape of this route family's errors.
    package var errorFormat: ErrorFormat {
        switch kind {
        case .openAI: .openAI
        case .anthropic: .anthropic
        case .gemini: .gemini
        case .bedrock: .bedrock
        }
    }

    /// The error shape for a request that may have matched no route: its endpoint's family when the
    /// path is one (the model list by the SDK's headers), Anthropic's under `/v1/messages`, else OpenAI's,
    /// which the admin API uses too.
    package static func errorFormat(path: String, headers: HTTPFields) -> ErrorFormat {
        if path.hasPrefix("/v1beta/") { return .gemini }
        if path.hasPrefix("/model/") { return .bedrock }
        if path == "/v1/models" || path.hasPrefix("/v1/models/") { return models(for: headers).errorFormat }
        if let endpoint = all.first(where: { $0.path == path }) { return endpoint.errorFormat }
        return path.hasPrefix("/v1/messages") ? .anthropic : .openAI
    }

    /// A Bedrock route's action, the path's last segment (`converse-stream`).
    var bedrockAction: String { path.split(separator: "/").last.map(String.init) ?? "" }

    /// OpenAI base URLs end in `/v1` (`https://api.openai.com/v1`), Anthropic's do not.
    package func upstreamPath(for clientPath: String) -> String {
        kind == .openAI && clientPath.hasPrefix("/v1/") ? String(clientPath.dropFirst(3)) : clientPath
    }

    /// The model-list endpoint of the SDK that sent `headers` (and `query`): Gemini's sends its key in
    /// `x-goog-api-key` or `?key=`, Anthropic's always sends `anthropic-version`.
    package static func models(for headers: HTTPFields, query: String? = nil) -> Endpoint {
        if headers[HTTPField.Name("x-goog-api-key")!] != nil || GeminiRoute.queryKey(query) != nil { return geminiModels }
        return headers[HTTPField.Name("anthropic-version")!] == nil ? openAIModels : anthropicModels
    }

    static let azureChat = Endpoint(
        method: .post, path: "/openai/deployments/{deployment}/chat/completions", kind: .openAI, operation: .chat,
        usageFormat: .openAIChat, hasBody: true, isAzureRoute: true)
    static let azureEmbeddings = Endpoint(
        method: .post, path: "/openai/deployments/{deployment}/embeddings", kind: .openAI, operation: .embeddings,
        usageFormat: .openAIChat, hasBody: true, isAzureRoute: true)

    static let geminiModels = Endpoint(
        method: .get, path: "/v1beta/models", kind: .gemini, operation: .models, usageFormat: .none, hasBody: false)

    static let openAIModels = Endpoint(
        method: .get, path: "/v1/models", kind: .openAI, operation: .models, usageFormat: .none, hasBody: false)
    static let anthropicModels = Endpoint(
        method: .get, path: "/v1/models", kind: .anthropic, operation: .models, usageFormat: .none, hasBody: false)

    package static let all: [Endpoint] = [
        Endpoint(method: .post, path: "/v1/chat/completions", kind: .openAI, operation: .chat, usageFormat: .openAIChat, hasBody: true),
        Endpoint(method: .post, path: "/v1/responses", kind: .openAI, operation: .responses, usageFormat: .openAIResponses, hasBody: true),
        Endpoint(method: .post, path: "/v1/embeddings", kind: .openAI, operation: .embeddings, usageFormat: .openAIChat, hasBody: true),
        openAIModels,
        Endpoint(method: .post, path: "/v1/messages", kind: .anthropic, operation: .messages, usageFormat: .anthropic, hasBody: true),
        Endpoint(
            method: .post, path: "/v1/messages/count_tokens", kind: .anthropic, operation: .countTokens, usageFormat: .none,
            hasBody: true),
    ]
}
