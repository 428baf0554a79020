/// The most output tokens a model can produce in one call, for reserving a call's worst-case cost when
/// the request sets no limit of its own. Names extend at a `-` boundary as in ``PriceTable``; an
/// unknown model gets a generous default, so a reservation errs on the side of the budget.
public enum OutputCeiling {
    public static let unknownModel = 128_000

    static let table: [String: Int] = [
        "gpt-5": 128_000, "gpt-4.1": 32_768, "gpt-4o": 16_384, "gpt-4-turbo": 4_096, "gpt-4": 8_192,
        "gpt-3.5-turbo": 4_096, "o1": 100_000, "o1-mini": 65_536, "o3": 100_000, "o3-mini": 100_000, "o4-mini": 100_000,
        "text-embedding": 0,
        "claude-opus-4-5": 64_000, "claude-opus-4-1": 32_000, "claude-opus-4": 32_000, "claude-sonnet-4-5": 64_000,
        "claude-sonnet-4": 64_000, "claude-haiku-4-5": 64_000, "claude-3-7-sonnet": 64_000, "claude-3-5-sonnet": 8_192,
        "claude-3-5-haiku": 8_192, "claude-3-opus": 4_096, "claude-3-haiku": 4_096,
        "gemini-3": 65_536, "gemini-2.5": 65_536, "gemini-2.0": 8_192, "gemini-1.5": 8_192, "gemini-embedding": 0,
        "amazon.titan-embed": 0, "cohere.embed": 0, "amazon.nova-micro": 10_000, "amazon.nova-lite": 10_000,
        "amazon.nova-pro": 10_000,
    ]

    static let namesLongestFirst = table.keys.sorted { $0.count > $1.count }

    public static func maximumOutputTokens(for model: String) -> Int {
        if let exact = table[model] { return exact }
        for name in namesLongestFirst where model.hasPrefix(name) {
            if model.utf8.dropFirst(name.utf8.count).first == UInt8(ascii: "-") { return table[name]! }
        }
        if let alias = BedrockModelID.priceName(model) { return maximumOutputTokens(for: alias) }
        return unknownModel
    }

    /// The worst case a request can cost: every body byte an input token (no tokenizer does worse on
    /// text), plus the request's output limit or the model's, once per answer asked for (`n`).
    public static func worstCaseUsage(
        bodyBytes: Int, maxOutputTokens: Int?, choices: Int = 1, model: String, operation: CallOperation
    ) -> Usage {
        switch operation {
        case .models, .countTokens: return .zero
        case .embeddings: return Usage(inputTokens: bodyBytes)
        case .chat, .responses, .messages, .generate, .converse, .invoke:
            // The provider enforces the request's own limit; without one, the model's ceiling applies.
            let perAnswer = maxOutputTokens ?? maximumOutputTokens(for: model)
            return Usage(inputTokens: bodyBytes, outputTokens: perAnswer * max(1, choices))
        }
    }
}
