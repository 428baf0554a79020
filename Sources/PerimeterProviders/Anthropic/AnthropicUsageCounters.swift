import PerimeterCore

/// Anthropic's four usage counters, each updated only when an event reports it, so the cumulative
/// `message_delta` values replace, never add to, what `message_start` said.
struct AnthropicUsageCounters: Sendable, Hashable {
    var input = 0
    var cacheRead = 0
    var cacheCreation = 0
    var output = 0

    mutating func update(from object: ScannedObject) {
        if let value = object.int("input_tokens") { input = value }
        if let value = object.int("cache_read_input_tokens") { cacheRead = value }
        if let value = object.int("cache_creation_input_tokens") { cacheCreation = value }
        if let value = object.int("output_tokens") { output = value }
    }

    var usage: Usage {
        Usage(
            inputTokens: input + cacheRead + cacheCreation, cachedInputTokens: cacheRead,
            cacheWriteTokens: cacheCreation, outputTokens: output)
    }

    /// Usage from one `usage` object, or `nil` when it holds neither input nor output tokens.
    static func usage(from object: ScannedObject) -> Usage? {
        guard object.int("input_tokens") != nil || object.int("output_tokens") != nil else { return nil }
        var counters = AnthropicUsageCounters()
        counters.update(from: object)
        return counters.usage
    }
}
