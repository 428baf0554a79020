/// Tokens one call consumed, normalised across providers.
///
/// `inputTokens` counts every input token, cached or not; `cachedInputTokens` is the part read from a
/// prompt cache and `cacheWriteTokens` the part written to one (Anthropic bills both differently).
/// OpenAI reports cached tokens inside its input count; Anthropic reports them beside it, and its meter
/// adds them in, so every consumer sees one meaning.
public struct Usage: Sendable, Hashable, Codable {
    public var inputTokens: Int
    public var cachedInputTokens: Int
    public var cacheWriteTokens: Int
    public var outputTokens: Int

    public init(inputTokens: Int = 0, cachedInputTokens: Int = 0, cacheWriteTokens: Int = 0, outputTokens: Int = 0) {
        self.inputTokens = inputTokens
        self.cachedInputTokens = cachedInputTokens
        self.cacheWriteTokens = cacheWriteTokens
        self.outputTokens = outputTokens
    }

    public static let zero = Usage()

    public var totalTokens: Int { inputTokens + outputTokens }
}

/// Where a call's usage came from.
public enum UsageSource: String, Sendable, Hashable, Codable {
    /// The provider reported it (a JSON body's `usage`, a stream's final usage event).
    case provider
    /// The call ended without the provider's report (the client left, the upstream cut the stream, the
    /// read timed out): input is the request's token ceiling, output what was relayed, counted so it is
    /// never below the provider's own count.
    case estimated
    /// The call's usage is unknown (the gateway stopped while it was under way): it is charged the
    /// worst case reserved before it went upstream.
    case reserved
}
