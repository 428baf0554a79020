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
            if let usageObject = ScannedObject(event.data)?.object("usage") {
                anthropic.update(from: usageObject)
                usage = anthropic.usage
                hasUsage = true
            }
        case "message_stop":
            isComplete = true
        default:
            break
        }
        return true
    }
}
