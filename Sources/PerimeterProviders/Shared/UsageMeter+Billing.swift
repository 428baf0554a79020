import PerimeterCore

extension UsageMeter {
    /// What the call is charged for, and where that came from.
    ///
    /// With the provider's final report, that report. Without it (the client left, the stream was cut,
    /// the read timed out, the gateway stopped), an estimate that is never below what the provider
    /// will charge: input is what the provider reported so far (Anthropic says it at the start), else
    /// `inputCeiling`, the request's token ceiling; output is the larger of what the provider reported
    /// so far and the tokens counted in what was relayed. A stream that carried content is never
    /// charged nothing.
    public func billableUsage(inputCeiling: Int) -> (Usage, UsageSource) {
        if hasFinalUsage || format == .none { return (usage, .provider) }
        var billed = usage
        if billed.inputTokens == 0 { billed.inputTokens = inputCeiling }
        if format == .geminiEmbeddings { return (billed, .estimated) }
        let relayed = isStream ? relayedOutputTokens : (bodyBytes + 3) / 4
        billed.outputTokens = max(billed.outputTokens, relayed)
        return (billed, .estimated)
    }
}
