extension UsageMeter {
    /// A Chat Completions stream: usage arrives in a chunk with empty `choices` when asked for with
    /// `stream_options.include_usage`, and `[DONE]` ends the stream. Returns false for the injected
    /// usage chunk the client did not ask for.
    mutating func observeOpenAIChat(_ event: SSEEvent) -> Bool {
        if event.data.elementsEqual("[DONE]".utf8) {
            isComplete = true
            return true
        }
        relayedOutputTokens += Self.chatDeltas.count(in: event.data)
        guard event.data.containsBytes(#""usage""#.utf8), let object = ScannedObject(event.data),
            let usageObject = object.object("usage"), let parsed = format.usage(from: usageObject)
        else { return true }
        usage = parsed
        hasUsage = true
        hasFinalUsage = true
        let isUsageOnlyChunk = object.isEmptyArray("choices")
        return !(removesUsageChunk && isUsageOnlyChunk)
    }

    /// A Responses stream: the final `response.completed`, `response.incomplete` or `response.failed`
    /// event carries the usage.
    mutating func observeOpenAIResponses(_ event: SSEEvent) -> Bool {
        let type = event.name ?? ""
        let isFinal = type == "response.completed" || type == "response.incomplete" || type == "response.failed"
        if isFinal { isComplete = true }
        if type.hasSuffix(".delta") { relayedOutputTokens += Self.responsesDeltas.count(in: event.data) }
        if isFinal || event.data.containsBytes(#""usage""#.utf8),
            let usageObject = ScannedObject(event.data)?.object("response")?.object("usage"),
            let parsed = format.usage(from: usageObject)
        {
            usage = parsed
            hasUsage = true
            hasFinalUsage = true
        }
        return true
    }

    /// Text a chat chunk carries: content, refusals, reasoning, tool-call arguments.
    static let chatDeltas = DeltaTokens(keys: ["content", "refusal", "reasoning_content", "reasoning", "arguments"])
    /// Text a Responses `*.delta` event carries (output text, arguments, reasoning summaries, refusals).
    static let responsesDeltas = DeltaTokens(keys: ["delta"])
}
