import Foundation
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

/// Anthropic's four usage counters, each updated only when an event reports it, so the cumulative
/// `message_delta` values replace, never add to, what `message_start` said.
struct AnthropicUsageCounters: Sendable, Hashable {
    var input = 0
    var cacheRead = 0
    var cacheCreation = 0
    var output = 0

    mutating func update(from object: [String: Any]) {
        if let value = jsonInt(object["input_tokens"]) { input = value }
        if let value = jsonInt(object["cache_read_input_tokens"]) { cacheRead = value }
        if let value = jsonInt(object["cache_creation_input_tokens"]) { cacheCreation = value }
        if let value = jsonInt(object["output_tokens"]) { output = value }
    }

    var usage: Usage {
        Usage(
            inputTokens: input + cacheRead + cacheCreation, cachedInputTokens: cacheRead,
            cacheWriteTokens: cacheCreation, outputTokens: output)
    }
}

extension UsageFormat {
    /// Usage from a `usage` object in this format, or `nil` when it holds none of the expected counters.
    func usage(from object: [String: Any]) -> Usage? {
        switch self {
        case .openAIChat:
            guard let input = jsonInt(object["prompt_tokens"]) else { return nil }
            let details = object["prompt_tokens_details"] as? [String: Any]
            return Usage(
                inputTokens: input, cachedInputTokens: jsonInt(details?["cached_tokens"]) ?? 0,
                outputTokens: jsonInt(object["completion_tokens"]) ?? 0)
        case .openAIResponses:
            guard let input = jsonInt(object["input_tokens"]) else { return nil }
            let details = object["input_tokens_details"] as? [String: Any]
            return Usage(
                inputTokens: input, cachedInputTokens: jsonInt(details?["cached_tokens"]) ?? 0,
                outputTokens: jsonInt(object["output_tokens"]) ?? 0)
        case .anthropic:
            guard object["input_tokens"] != nil || object["output_tokens"] != nil else { return nil }
            var counters = AnthropicUsageCounters()
            counters.update(from: object)
            return counters.usage
        case .none:
            return nil
        }
    }
}

func jsonObject(_ bytes: some Collection<UInt8>) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(bytes), options: [])) as? [String: Any]
}

func jsonInt(_ value: Any?) -> Int? {
    switch value {
    case let int as Int: int
    case let double as Double: double.isFinite ? Int(double) : nil
    case let number as NSNumber: number.intValue
    default: nil
    }
}

extension Collection<UInt8> {
    /// True when `needle` occurs in these bytes; a cheap test before a JSON parse.
    func containsBytes(_ needle: some Collection<UInt8>) -> Bool {
        guard let first = needle.first, needle.count <= count else { return false }
        var index = startIndex
        while let found = self[index...].firstIndex(of: first) {
            if self[found...].starts(with: needle) { return true }
            index = self.index(after: found)
        }
        return false
    }
}
