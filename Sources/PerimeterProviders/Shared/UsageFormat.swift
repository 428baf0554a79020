import PerimeterCore

/// How a provider reports usage in its JSON, one case per field layout.
public enum UsageFormat: Sendable, Hashable {
    /// Chat Completions and Embeddings: `prompt_tokens`, `completion_tokens`, `prompt_tokens_details.cached_tokens`.
    case openAIChat
    /// Responses: `input_tokens`, `output_tokens`, `input_tokens_details.cached_tokens`.
    case openAIResponses
    /// Messages: `input_tokens`, `cache_read_input_tokens`, `cache_creation_input_tokens`, `output_tokens`.
    case anthropic
    /// Operations that consume no tokens (model lists, token counting).
    case none
}

extension UsageFormat {
    /// Usage from a `usage` object in this format, or `nil` when it holds none of the expected counters.
    func usage(from object: ScannedObject) -> Usage? {
        switch self {
        case .openAIChat: return OpenAIUsage.chat(from: object)
        case .openAIResponses: return OpenAIUsage.responses(from: object)
        case .anthropic: return AnthropicUsageCounters.usage(from: object)
        case .none:
            return nil
        }
    }
}
