/// A model's list price in US dollars per million tokens.
public struct ModelPrice: Sendable, Hashable, Codable {
    public var input: Double
    public var output: Double
    /// Price of input tokens read from a prompt cache; `input` when the provider has no discount.
    public var cachedInput: Double
    /// Price of input tokens written to a prompt cache; `input` when the provider charges nothing extra.
    public var cacheWrite: Double

    public init(input: Double, output: Double, cachedInput: Double? = nil, cacheWrite: Double? = nil) {
        self.input = input
        self.output = output
        self.cachedInput = cachedInput ?? input
        self.cacheWrite = cacheWrite ?? input
    }

    /// The cost of `usage`, rounded up to the next nanodollar so that spend is never under-counted.
    public func cost(of usage: Usage) -> Money {
        let uncached = max(0, usage.inputTokens - usage.cachedInputTokens - usage.cacheWriteTokens)
        let perMillion =
            Double(uncached) * input + Double(usage.cachedInputTokens) * cachedInput
            + Double(usage.cacheWriteTokens) * cacheWrite + Double(usage.outputTokens) * output
        // USD per million tokens × tokens = microdollars; × 1000 = nanodollars.
        return Money(nanos: Int64((perMillion * 1000).rounded(.up)))
    }
}
