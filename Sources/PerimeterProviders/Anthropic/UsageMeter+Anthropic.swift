extension UsageMeter {
    /// A Messages stream: `message_start` carries the input counters, each `message_delta` the
    /// cumulative output, and `message_stop` ends the stream.
    mutating func observeAnthropic(_ event: SSEEvent) -> Bool {
        switch event.name {
        case "message_start":
            if let usageObject = ScannedObject(event.data)?.object("message")?.object("usage") {
                anthropic.update(from: usageObject)
                usage = anthropic.usage
                hasUsage = true
            }
        case "message_delta":
            if let object = ScannedObject(event.data), let usageObject = object.object("usage") {
                anthropic.update(from: usageObject)
                usage = anthropic.usage
                hasUsage = true
                // Counts are cumulative and may come more than once; the one with a stop reason is the last.
                if let delta = object.object("delta"), case .string? = delta.members["stop_reason"]?.kind { hasFinalUsage = true }
            }
        case "content_block_delta":
            relayedOutputTokens += Self.anthropicDeltas.count(in: event.data)
        case "message_stop":
            isComplete = true
            if hasUsage { hasFinalUsage = true }
        default:
            break
        }
        return true
    }

    /// Text a `content_block_delta` carries: text, tool input JSON, thinking.
    static let anthropicDeltas = DeltaTokens(keys: ["text", "partial_json", "thinking"])
}
