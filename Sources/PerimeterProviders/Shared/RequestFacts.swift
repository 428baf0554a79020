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
    package static func inspect(_ body: [UInt8]) throws(GatewayError) -> (RequestFacts, [String: JSONScanner.Member]) {
        let members: [String: JSONScanner.Member]
        do {
            members = try JSONScanner.topLevelMembers(of: body)
        } catch {
            throw .malformedJSON(error.description)
        }
        var facts = RequestFacts()
        if case .string(let model)? = members["model"]?.kind { facts.model = model }
        if case .bool(true)? = members["stream"]?.kind { facts.isStream = true }
        for name in ["tools", "functions"] {
            if let member = members[name], case .array(isEmpty: false) = member.kind {
                facts.hasTools = true
                facts.toolNames += toolNames(in: Array(body[member.range]))
            }
        }
        if let choice = members["tool_choice"] {
            switch choice.kind {
            case .null, .string("none"): break
            default: facts.hasTools = true
            }
        }
        for name in ["max_completion_tokens", "max_tokens", "max_output_tokens"] {
            if case .number(let value?)? = members[name]?.kind, value >= 0, value < 1e9 {
                facts.maxOutputTokens = Int(value)
                break
            }
        }
        if let options = members["stream_options"], case .object = options.kind {
            facts.includesUsage = streamOptionsIncludeUsage(Array(body[options.range]))
        }
        return (facts, members)
    }

    /// Names from `[{"type":"function","function":{"name":…}}]` (Chat Completions),
    /// `[{"name":…}]` (Anthropic, Responses, legacy functions), or a built-in tool's `type`.
    private static func toolNames(in array: [UInt8]) -> [String] {
        guard let items = (try? JSONSerialization.jsonObject(with: Data(array))) as? [Any] else { return [] }
        return items.compactMap { item in
            guard let tool = item as? [String: Any] else { return nil }
            if let function = tool["function"] as? [String: Any], let name = function["name"] as? String { return name }
            if let name = tool["name"] as? String { return name }
            return tool["type"] as? String
        }
    }

    private static func streamOptionsIncludeUsage(_ object: [UInt8]) -> Bool {
        guard let inner = try? JSONScanner.topLevelMembers(of: object) else { return false }
        if case .bool(true)? = inner["include_usage"]?.kind { return true }
        return false
    }
}
