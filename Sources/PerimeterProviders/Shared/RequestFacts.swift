import Foundation
import PerimeterCore

/// What policy and metering need to know about a request, read from its body once.
public struct RequestFacts: Sendable, Hashable {
    public var model: String?
    public var isStream: Bool
    /// True when an OpenAI chat request already asks for the usage chunk (`stream_options.include_usage`).
    public var includesUsage: Bool
    /// True when the request offers the model tools (or, for older OpenAI clients, functions), or
    /// names a tool choice.
    public var hasTools: Bool
    /// The declared tools' names: function names, or the type of a built-in tool (`web_search`).
    public var toolNames: [String] = []
    /// The output-token ceiling the request sets, whichever field its API names it by.
    public var maxOutputTokens: Int?
    /// How many answers the request asks for (`n` on OpenAI chat completions): each may use the whole
    /// output ceiling, so the worst case is this many times one answer's.
    public var choices = 1
    /// Features the provider bills per use, not per token (hosted web search, file search, code
    /// execution, image generation, audio output): the price table cannot cost them.
    public var perUseFeatures: [String] = []
    /// The most input tokens the request can be billed for: one per body byte (no tokenizer does worse
    /// on text), plus ``mediaTokenCeiling`` for each image, document, file or audio part, which a URL or
    /// file id can make far larger than its bytes.
    public var inputTokenCeiling = 0

    /// Tokens allowed for one image, document, file or audio part referenced by URL or id. An image is at
    /// most about 1,600 tokens with Anthropic and about 2,500 with OpenAI's patch-based models; a
    /// document of many pages can be more, which this does not bound.
    public static let mediaTokenCeiling = 3_000

    public init(
        model: String? = nil, isStream: Bool = false, includesUsage: Bool = false, hasTools: Bool = false,
        toolNames: [String] = [], maxOutputTokens: Int? = nil
    ) {
        self.model = model
        self.isStream = isStream
        self.includesUsage = includesUsage
        self.hasTools = hasTools
        self.toolNames = toolNames
        self.maxOutputTokens = maxOutputTokens
    }
}

/// Reads ``RequestFacts`` from a request body and, where metering needs it, rewrites the body.
package enum RequestInspector {
    /// Inspects `body`, which must be one JSON object. Throws ``GatewayError/malformedJSON(_:)`` otherwise.
    /// `model` and `operation` are the route's (Bedrock names the model in the path, and reads a limit
    /// by the model's vendor).
    package static func inspect(
        _ body: [UInt8], kind: ProviderKind = .openAI, model: String? = nil, operation: CallOperation? = nil
    ) throws(GatewayError) -> (
        RequestFacts, [String: JSONScanner.Member]
    ) {
        let members: [String: JSONScanner.Member]
        do {
            members = try JSONScanner.topLevelMembers(of: body)
        } catch {
            throw .malformedJSON(error.description)
        }
        var facts = RequestFacts()
        facts.inputTokenCeiling = body.count + RequestFacts.mediaTokenCeiling * mediaParts(in: body)
        if case .string(let model)? = members["model"]?.kind { facts.model = model }
        if case .bool(true)? = members["stream"]?.kind { facts.isStream = true }
        for name in ["tools", "functions"] {
            if let member = members[name], case .array(isEmpty: false) = member.kind {
                facts.hasTools = true
                let tools = Array(body[member.range])
                facts.toolNames += toolNames(in: tools)
                facts.perUseFeatures += perUseTools(in: tools)
            }
        }
        if members["web_search_options"] != nil { facts.perUseFeatures.append("web_search_options") }
        if let audio = members["audio"], audio.kind != .null { facts.perUseFeatures.append("audio") }
        if let choices = members["n"] {
            switch choices.kind {
            case .null: break
            case .number(let value?) where value >= 1 && value <= 128 && value.rounded() == value: facts.choices = Int(value)
            default: throw .invalidRequest("'n' must be a whole number from 1 to 128.")
            }
        }
        if let choice = members["tool_choice"] {
            switch choice.kind {
            case .null, .string("none"): break
            default: facts.hasTools = true
            }
        }
        // With more than one limit named, the largest is the one that bounds the worst case.
        for name in ["max_completion_tokens", "max_tokens", "max_output_tokens"] {
            if case .number(let value?)? = members[name]?.kind, value >= 0, value < 1e9 {
                facts.maxOutputTokens = max(facts.maxOutputTokens ?? 0, Int(value))
            }
        }
        if let options = members["stream_options"], case .object = options.kind {
            facts.includesUsage = streamOptionsIncludeUsage(Array(body[options.range]))
        }
        if kind == .gemini { try readGemini(into: &facts, body: body, members: members) }
        if kind == .bedrock { try readBedrock(into: &facts, body: body, members: members, model: model, operation: operation) }
        return (facts, members)
    }

    /// Names from `[{"type":"function","function":{"name":…}}]` (Chat Completions),
    /// `[{"name":…}]` (Anthropic, Responses, legacy functions), or a built-in tool's `type`.
    static func toolNames(in array: [UInt8]) -> [String] {
        guard let items = (try? JSONSerialization.jsonObject(with: Data(array))) as? [Any] else { return [] }
        return items.compactMap { item in
            guard let tool = item as? [String: Any] else { return nil }
            if let function = tool["function"] as? [String: Any], let name = function["name"] as? String { return name }
            if let name = tool["name"] as? String { return name }
            return tool["type"] as? String
        }
    }

    /// Parts whose tokens are not their bytes: every quoted `image_url`, `input_image`, `input_file`,
    /// `input_audio`, `image`, `document` or `file_id` (a name or a type); counting a name that is not a
    /// part only raises the ceiling.
    private static func mediaParts(in body: [UInt8]) -> Int {
        quotedNames(["image_url", "input_image", "input_file", "input_audio", "image", "document", "file_id"], in: body)
    }

    /// How many times any of `names`, quoted, appears in `body`.
    static func quotedNames(_ names: [String], in body: [UInt8]) -> Int {
        let patterns = names.map { Array("\"\($0)\"".utf8) }
        var count = 0
        var index = body.startIndex
        while let quote = body[index...].firstIndex(of: UInt8(ascii: "\"")) {
            if patterns.contains(where: { body[quote...].starts(with: $0) }) { count += 1 }
            index = quote + 1
        }
        return count
    }

    /// Hosted tools the provider charges per call: OpenAI's web search, file search, code interpreter
    /// and image generation; Anthropic's server tools (web search, web fetch, code execution).
    static func perUseTools(in array: [UInt8]) -> [String] {
        let perUse = ["web_search", "web_fetch", "file_search", "code_interpreter", "code_execution", "image_generation"]
        guard let items = (try? JSONSerialization.jsonObject(with: Data(array))) as? [Any] else { return [] }
        return items.compactMap { item in
            guard let type = (item as? [String: Any])?["type"] as? String, perUse.contains(where: type.hasPrefix) else { return nil }
            return type
        }
    }

    private static func streamOptionsIncludeUsage(_ object: [UInt8]) -> Bool {
        guard let inner = try? JSONScanner.topLevelMembers(of: object) else { return false }
        if case .bool(true)? = inner["include_usage"]?.kind { return true }
        return false
    }
}
