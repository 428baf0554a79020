import PerimeterCore

/// How a provider reports usage in its JSON, one case per field layout.
public enum UsageFormat: Sendable, Hashable {
    /// Chat Completions and Embeddings: `prompt_tokens`, `completion_tokens`, `prompt_tokens_details.cached_tokens`.
    case openAIChat
    /// Responses: `input_tokens`, `output_tokens`, `input_tokens_details.cached_tokens`.
    case openAIResponses
    /// Messages: `input_tokens`, `cache_read_input_tokens`, `cache_creation_input_tokens`, `output_tokens`.
    case anthropic
    /// Gemini's `usageMetadata` (generateContent, streamed or not).
    case gemini
    /// Gemini's embeddings, whose answers carry no usage: charged by the request's input ceiling, with
    /// no output (a `usageMetadata`, if one comes, counts).
    case geminiEmbeddings
    /// Bedrock's Converse: `usage` with `inputTokens`, `cacheReadInputTokens`, `cacheWriteInputTokens`,
    /// `outputTokens`; streamed, the binary event stream's `metadata` event.
    case bedrockConverse
    /// Bedrock's InvokeModel: the model's own body (Anthropic's `usage` for Claude), else the
    /// `x-amzn-bedrock-*-token-count` headers; streamed, the chunks' Anthropic events or Bedrock's
    /// `amazon-bedrock-invocationMetrics`.
    case bedrockInvoke
    /// Operations that consume no tokens (model lists, token counting).
    case none

    /// The member of a whole JSON body that holds the usage.
    var usageMember: String {
        switch self {
        case .gemini, .geminiEmbeddings: "usageMetadata"
        default: "usage"
        }
    }
}

extension UsageFormat {
    /// Usage from a `usage` object in this format, or `nil` when it holds none of the expected counters.
    func usage(from object: ScannedObject) -> Usage? {
        switch self {
        case .openAIChat: return OpenAIUsage.chat(from: object)
        case .openAIResponses: return OpenAIUsage.responses(from: object)
        case .anthropic: return AnthropicUsageCounters.usage(from: object)
        case .gemini, .geminiEmbeddings: return GeminiUsage.usage(from: object)
        case .bedrockConverse: return BedrockUsage.converse(from: object)
        case .bedrockInvoke: return BedrockUsage.invoke(from: object)
        case .none:
            return nil
        }
    }
}
