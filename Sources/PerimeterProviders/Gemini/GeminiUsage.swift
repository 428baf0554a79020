import PerimeterCore

/// Gemini's `usageMetadata`: `promptTokenCount` (cached tokens included), `toolUsePromptTokenCount`
/// (the results of tools it ran, billed as input), `cachedContentTokenCount`, `candidatesTokenCount`
/// and `thoughtsTokenCount` (thinking, billed as output).
enum GeminiUsage {
    static func usage(from object: ScannedObject) -> Usage? {
        guard let prompt = object.int("promptTokenCount") else { return nil }
        return Usage(
            inputTokens: prompt + (object.int("toolUsePromptTokenCount") ?? 0),
            cachedInputTokens: object.int("cachedContentTokenCount") ?? 0,
            outputTokens: (object.int("candidatesTokenCount") ?? 0) + (object.int("thoughtsTokenCount") ?? 0))
    }
}

extension UsageMeter {
    /// One chunk of a Gemini stream (an SSE event's data, or one element of the JSON-array stream):
    /// every chunk carries the counts so far, and the one with a `finishReason` the final ones.
    mutating func observeGemini(_ data: some Collection<UInt8>) {
        relayedOutputTokens += Self.geminiDeltas.count(in: data)
        guard data.containsBytes(#""usageMetadata""#.utf8), let object = ScannedObject(data),
            let usageObject = object.object("usageMetadata"), let parsed = GeminiUsage.usage(from: usageObject)
        else { return }
        usage = parsed
        hasUsage = true
        // An unescaped `"finishReason"` is a member name (inside a string its quotes would be escaped).
        if data.containsBytes(#""finishReason""#.utf8) {
            hasFinalUsage = true
            isComplete = true
        }
    }

    /// Text a Gemini chunk carries: the parts' text (answers and thoughts alike).
    static let geminiDeltas = DeltaTokens(keys: ["text"])
}
