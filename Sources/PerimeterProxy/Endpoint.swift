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

    /// The JSON shape of this route family's errors.
    package var errorFormat: ErrorFormat { kind == .anthropic ? .anthropic : .openAI }

    /// The error shape for a request that may have matched no route: its endpoint's family when the
    /// path is one (the model list by the SDK's headers), Anthropic's under `/v1/messages`, else OpenAI's,
    /// which the admin API uses too.
    package static func errorFormat(path: String, headers: HTTPFields) -> ErrorFormat {
        if path == "/v1/models" || path.hasPrefix("/v1/models/") { return models(for: headers).errorFormat }
        if let endpoint = all.first(where: { $0.path == path }) { return endpoint.errorFormat }
        return path.hasPrefix("/v1/messages") ? .anthropic : .openAI
    }

    /// OpenAI base URLs end in `/v1` (`https://api.openai.com/v1`), Anthropic's do not.
    package func upstreamPath(for clientPath: String) -> String {
        kind == .openAI && clientPath.hasPrefix("/v1/") ? String(clientPath.dropFirst(3)) : clientPath
    }

    /// The model-list endpoint of the SDK that sent `headers`.
    package static func models(for headers: HTTPFields) -> Endpoint {
        headers[HTTPField.Name("anthropic-version")!] == nil ? openAIModels : anthropicModels
    }

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
