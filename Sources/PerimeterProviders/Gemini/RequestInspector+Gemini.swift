import Foundation
import PerimeterCore

extension RequestInspector {
    /// What Gemini's request shape adds to the generic reading: the output limit and answer count in
    /// `generationConfig` (`maxOutputTokens`, `candidateCount`), and tools as `functionDeclarations`
    /// (named by function) or built-in tools named by their key (`googleSearch`, `codeExecution`, ...).
    static func readGemini(into facts: inout RequestFacts, body: [UInt8], members: [String: JSONScanner.Member]) throws(GatewayError) {
        // The route says whether it streams, and only Gemini's own fields set the limits: the generic
        // reading of OpenAI's names (`stream`, `max_tokens`, `n`) does not apply.
        facts.isStream = false
        facts.maxOutputTokens = nil
        facts.choices = 1
        // Google accepts both spellings of every field; with both given, the larger limit bounds the worst case.
        for configName in ["generationConfig", "generation_config"] {
            guard let config = members[configName], case .object = config.kind,
                let inner = try? JSONScanner.topLevelMembers(of: Array(body[config.range]))
            else { continue }
            for name in ["maxOutputTokens", "max_output_tokens"] {
                if case .number(let value?)? = inner[name]?.kind, value >= 0, value < 1e9 {
                    facts.maxOutputTokens = max(facts.maxOutputTokens ?? 0, Int(value))
                }
            }
            for name in ["candidateCount", "candidate_count"] {
                guard let count = inner[name] else { continue }
                switch count.kind {
                case .null: break
                case .number(let value?) where value >= 1 && value <= 8 && value.rounded() == value:
                    facts.choices = max(facts.choices, Int(value))
                default: throw .invalidRequest("'\(configName).\(name)' must be a whole number from 1 to 8.")
                }
            }
        }
        // A file by URI (a video, a document in the Files API) or a page the urlContext tool fetches can
        // be up to a whole context window of input, whatever the size of the request.
        let referenced = quotedNames(["fileData", "file_data", "urlContext", "url_context"], in: body)
        facts.inputTokenCeiling += referenced * Self.geminiReferencedInputCeiling

        // The generic reading looks for OpenAI's and Anthropic's tool shapes; Gemini's replace them.
        facts.toolNames = []
        if let tools = members["tools"], tools.kind != .null {
            guard case .array(let isEmpty) = tools.kind else { throw .invalidRequest("'tools' must be a list.") }
            guard
                let items = (try? JSONSerialization.jsonObject(with: Data(body[tools.range]))) as? [Any],
                items.allSatisfy({ $0 is [String: Any] })
            else { throw .invalidRequest("'tools' must be a list of objects.") }
            facts.hasTools = !isEmpty
            for case let tool as [String: Any] in items {
                for (name, value) in tool.sorted(by: { $0.key < $1.key }) {
                    if name == "functionDeclarations" || name == "function_declarations" {
                        let declarations = value as? [Any] ?? []
                        // A declaration without a name cannot be checked against an allowlist: it is named "".
                        facts.toolNames += declarations.map { (($0 as? [String: Any])?["name"] as? String) ?? "" }
                    } else {
                        facts.toolNames.append(name)
                        // Grounding with Google Search or Maps is billed per request, not per token.
                        if name.hasPrefix("googleSearch") || name.hasPrefix("google_search") {
                            facts.perUseFeatures.append("google_search")
                        }
                        if name.hasPrefix("googleMaps") || name.hasPrefix("google_maps") { facts.perUseFeatures.append("google_maps") }
                    }
                }
            }
        }
        for name in ["toolConfig", "tool_config"] {
            if let config = members[name], config.kind != .null { facts.hasTools = true }
        }
    }

    /// Input tokens a part referenced by URI, or fetched by a tool, may bring: Gemini's largest context.
    static let geminiReferencedInputCeiling = 1_048_576
}
