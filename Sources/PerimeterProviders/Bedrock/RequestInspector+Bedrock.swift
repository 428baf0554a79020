import Foundation
import PerimeterCore

extension RequestInspector {
    /// What Bedrock's request shapes add to the generic reading: the output limit the model actually
    /// reads (Converse's `inferenceConfig.maxTokens`; in an InvokeModel body, the model vendor's own
    /// field), tools (`toolConfig.tools[].toolSpec.name`, and tools passed to Claude through
    /// `additionalModelRequestFields`), and the options Bedrock bills beyond tokens.
    ///
    /// A limit under a name the model ignores must not shrink the worst case a budget reserves, so only
    /// the model's own field counts; without it the model's ceiling applies.
    static func readBedrock(
        into facts: inout RequestFacts, body: [UInt8], members: [String: JSONScanner.Member], model: String?,
        operation: CallOperation?
    ) throws(GatewayError) {
        // The route says whether it streams.
        facts.isStream = false
        facts.maxOutputTokens = nil
        func object(_ member: JSONScanner.Member?) -> [String: JSONScanner.Member]? {
            guard let member, case .object = member.kind else { return nil }
            return try? JSONScanner.topLevelMembers(of: Array(body[member.range]))
        }
        func number(_ member: JSONScanner.Member?) -> Int? {
            guard case .number(let value?)? = member?.kind, value >= 0, value < 1e9 else { return nil }
            return Int(value)
        }
        let additional = object(members["additionalModelRequestFields"])
        if operation == .converse {
            // Fields passed on to the model can raise the limit, never stand in for it.
            let extra = [additional?["max_tokens"], additional?["maxTokens"]].compactMap(number).max()
            facts.maxOutputTokens = number(object(members["inferenceConfig"])?["maxTokens"]).map { max($0, extra ?? 0) }
        } else {
            facts.maxOutputTokens = invokeLimit(model: model, members: members, object: object, number: number)
        }
        // A video, or any part read from S3, may be far more input than the request's bytes.
        facts.inputTokenCeiling += quotedNames(["video"], in: body) * RequestFacts.mediaTokenCeiling
        facts.inputTokenCeiling += quotedNames(["s3Location"], in: body) * Self.bedrockReferencedInputCeiling

        // Billed beyond tokens: a service tier other than the default, latency-optimized inference, guardrails.
        if case .string(let tier)? = object(members["serviceTier"])?["type"]?.kind, tier != "default" {
            facts.perUseFeatures.append("bedrock_service_tier_\(tier.prefix(20))")
        }
        if case .string(let latency)? = object(members["performanceConfig"])?["latency"]?.kind, latency != "standard" {
            facts.perUseFeatures.append("bedrock_latency_\(latency.prefix(20))")
        }
        if let guardrail = members["guardrailConfig"], guardrail.kind != .null { facts.perUseFeatures.append("bedrock_guardrail") }

        // Tools handed to Claude in its own request shape (computer use is documented this way).
        if let tools = additional?["tools"], tools.kind != .null, let range = members["additionalModelRequestFields"]?.range {
            guard case .array(let isEmpty) = tools.kind else {
                throw .invalidRequest("'additionalModelRequestFields.tools' must be a list.")
            }
            // The member's range is relative to the object it was read from.
            let list = Array(body[range])[tools.range]
            facts.hasTools = facts.hasTools || !isEmpty
            facts.toolNames += toolNames(in: Array(list))
            facts.perUseFeatures += perUseTools(in: Array(list))
        }
        if let choice = additional?["tool_choice"], choice.kind != .null { facts.hasTools = true }
        try readToolConfig(into: &facts, body: body, members: members)
    }

    /// The output limit of an InvokeModel body, from the field its model's vendor reads; `nil` (the
    /// model's ceiling) for a vendor whose field is not known here.
    private static func invokeLimit(
        model: String?, members: [String: JSONScanner.Member], object: (JSONScanner.Member?) -> [String: JSONScanner.Member]?,
        number: (JSONScanner.Member?) -> Int?
    ) -> Int? {
        let id = model ?? ""
        switch BedrockModelID.vendor(id) {
        case "anthropic", "mistral", "cohere", "ai21", "deepseek", "writer":
            return number(members["max_tokens"])
        case "meta":
            return number(members["max_gen_len"])
        case "openai", "qwen":
            return [members["max_tokens"], members["max_completion_tokens"]].compactMap(number).max()
        case "amazon" where id.contains("nova"):
            return number(object(members["inferenceConfig"])?["max_new_tokens"])
        case "amazon" where id.contains("titan-text"):
            return number(object(members["textGenerationConfig"])?["maxTokenCount"])
        default:
            return nil
        }
    }

    /// Converse's (and Nova's) `toolConfig`: each `toolSpec` by name, a `systemTool` (billed per use).
    private static func readToolConfig(into facts: inout RequestFacts, body: [UInt8], members: [String: JSONScanner.Member])
        throws(GatewayError)
    {
        guard let config = members["toolConfig"], config.kind != .null else { return }
        guard case .object = config.kind,
            let object = (try? JSONSerialization.jsonObject(with: Data(body[config.range]))) as? [String: Any]
        else { throw .invalidRequest("'toolConfig' must be an object.") }
        facts.hasTools = true
        guard let tools = object["tools"] else { return }
        guard let list = tools as? [Any], list.allSatisfy({ $0 is [String: Any] }) else {
            throw .invalidRequest("'toolConfig.tools' must be a list of objects.")
        }
        for case let tool as [String: Any] in list {
            // A cache point is not a tool; any other entry is one, named by its spec (unnamed: "").
            if tool.keys.contains("cachePoint"), tool.count == 1 { continue }
            if let system = tool["systemTool"] as? [String: Any] {
                let name = system["name"] as? String ?? ""
                facts.toolNames.append(name)
                facts.perUseFeatures.append("bedrock_system_tool_\(name.prefix(40))")
                continue
            }
            facts.toolNames.append((tool["toolSpec"] as? [String: Any])?["name"] as? String ?? "")
        }
    }

    /// Input tokens a part read from S3 may bring: a whole large context.
    static let bedrockReferencedInputCeiling = 1_000_000
}
