import PerimeterCore

/// OpenAI's two usage layouts.
enum OpenAIUsage {
    /// Chat Completions and Embeddings: `prompt_tokens`, `completion_tokens`, `prompt_tokens_details.cached_tokens`.
    static func chat(from object: ScannedObject) -> Usage? {
        guard let input = object.int("prompt_tokens") else { return nil }
        return Usage(
            inputTokens: input, cachedInputTokens: object.object("prompt_tokens_details")?.int("cached_tokens") ?? 0,
            outputTokens: object.int("completion_tokens") ?? 0)
    }

    /// Responses: `input_tokens`, `output_tokens`, `input_tokens_details.cached_tokens`.
    static func responses(from object: ScannedObject) -> Usage? {
        guard let input = object.int("input_tokens") else { return nil }
        return Usage(
            inputTokens: input, cachedInputTokens: object.object("input_tokens_details")?.int("cached_tokens") ?? 0,
            outputTokens: object.int("output_tokens") ?? 0)
    }
}
