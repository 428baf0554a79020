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

/// A JSON object read with ``JSONScanner``: its members located, values decoded only when asked.
/// Usage is a handful of integers inside bodies that may be large; this reads them without building
/// a dictionary of the whole body.
struct ScannedObject {
    let bytes: [UInt8]
    let members: [String: JSONScanner.Member]

    init?(_ source: some Collection<UInt8>) {
        let bytes = Array(source)
        guard let members = try? JSONScanner.topLevelMembers(of: bytes) else { return nil }
        self.bytes = bytes
        self.members = members
    }

    func int(_ name: String) -> Int? {
        guard case .number(let value?)? = members[name]?.kind, value.isFinite, value >= 0, value < 1e15 else { return nil }
        return Int(value)
    }

    func object(_ name: String) -> ScannedObject? {
        guard let member = members[name], case .object = member.kind else { return nil }
        return ScannedObject(bytes[member.range])
    }

    func isEmptyArray(_ name: String) -> Bool {
        if case .array(isEmpty: true)? = members[name]?.kind { return true }
        return false
    }
}

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
}

extension UsageFormat {
    /// Usage from a `usage` object in this format, or `nil` when it holds none of the expected counters.
    func usage(from object: ScannedObject) -> Usage? {
        switch self {
        case .openAIChat:
            guard let input = object.int("prompt_tokens") else { return nil }
            return Usage(
                inputTokens: input, cachedInputTokens: object.object("prompt_tokens_details")?.int("cached_tokens") ?? 0,
                outputTokens: object.int("completion_tokens") ?? 0)
        case .openAIResponses:
            guard let input = object.int("input_tokens") else { return nil }
            return Usage(
                inputTokens: input, cachedInputTokens: object.object("input_tokens_details")?.int("cached_tokens") ?? 0,
                outputTokens: object.int("output_tokens") ?? 0)
        case .anthropic:
            guard object.int("input_tokens") != nil || object.int("output_tokens") != nil else { return nil }
            var counters = AnthropicUsageCounters()
            counters.update(from: object)
            return counters.usage
        case .none:
            return nil
        }
    }
}

/// The demo provider's parse of a request; metering uses ``ScannedObject`` instead.
func jsonObject(_ bytes: some Collection<UInt8>) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(bytes), options: [])) as? [String: Any]
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
