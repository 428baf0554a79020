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

    /// The body of a streamed OpenAI chat request, changed to ask upstream for the usage chunk.
    ///
    /// Only the `stream_options` member is touched; every other byte goes upstream as the client sent it.
    package static func requestingStreamUsage(_ body: [UInt8], members: [String: JSONScanner.Member]) -> [UInt8] {
        let includeUsage = Array(#""include_usage":true"#.utf8)
        guard let options = members["stream_options"] else {
            // Insert the member right after the object's opening brace.
            guard let brace = body.firstIndex(of: UInt8(ascii: "{")) else { return body }
            var out = [UInt8]()
            out.reserveCapacity(body.count + 40)
            out.append(contentsOf: body[...brace])
            out.append(contentsOf: Array(#""stream_options":{"#.utf8) + includeUsage + [UInt8(ascii: "}")])
            let hasOtherMembers = !members.isEmpty
            if hasOtherMembers { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: body[(brace + 1)...])
            return out
        }
        var replacement = [UInt8(ascii: "{")] + includeUsage
        if case .object = options.kind {
            // Keep the client's other options; drop its own include_usage, which was false.
            let original = Array(body[options.range])
            if let inner = try? JSONScanner.topLevelMembers(of: original) {
                for (name, member) in inner.sorted(by: { $0.value.range.lowerBound < $1.value.range.lowerBound })
                where name != "include_usage" {
                    replacement.append(UInt8(ascii: ","))
                    replacement.append(contentsOf: jsonString(name))
                    replacement.append(UInt8(ascii: ":"))
                    replacement.append(contentsOf: original[member.range])
                }
            }
        }
        replacement.append(UInt8(ascii: "}"))
        return Array(body[..<options.range.lowerBound]) + replacement + Array(body[options.range.upperBound...])
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

    private static func jsonString(_ value: String) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "\"")]
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            case ..<0x20:
                out.append(contentsOf: Array("\\u00".utf8))
                let digits = Array("0123456789abcdef".utf8)
                out.append(digits[Int(byte >> 4)])
                out.append(digits[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
        return out
    }
}
