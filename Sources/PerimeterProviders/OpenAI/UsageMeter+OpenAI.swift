extension UsageMeter {
    /// A Chat Completions stream: usage arrives in a chunk with empty `choices` when asked for with
    /// `stream_options.include_usage`, and `[DONE]` ends the stream. Returns false for the injected
    /// usage chunk the client did not ask for.
    mutating func observeOpenAIChat(_ event: SSEEvent) -> Bool {
        if event.data.elementsEqual("[DONE]".utf8) {
            isComplete = true
            return true
        }
        guard event.data.containsBytes(#""usage""#.utf8), let object = ScannedObject(event.data),
            let usageObject = object.object("usage"), let parsed = format.usage(from: usageObject)
        else { return true }
        usage = parsed
        hasUsage = true
        let isUsageOnlyChunk = object.isEmptyArray("choices")
        return !(removesUsageChunk && isUsageOnlyChunk)
    }

    /// A Responses stream: the final `response.completed`, `response.incomplete` or `response.failed`
    /// event carries the usage.
    mutating func observeOpenAIResponses(_ event: SSEEvent) -> Bool {
        let type = event.name ?? ""
        let isFinal = type == "response.completed" || type == "response.incomplete" || type == "response.failed"
        if isFinal { isComplete = true }
        if isFinal || event.data.containsBytes(#""usage""#.utf8),
            let usageObject = ScannedObject(event.data)?.object("response")?.object("usage"),
            let parsed = format.usage(from: usageObject)
        {
            usage = parsed
            hasUsage = true
        }
        return true
    }
}
