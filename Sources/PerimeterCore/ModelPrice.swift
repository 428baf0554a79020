/// A model's list price in US dollars per million tokens.
public struct ModelPrice: Sendable, Hashable, Codable {
    public var input: Double
    public var output: Double
    /// Price of input tokens read from a prompt cache; `input` when the provider has no discount.
    public var cachedInput: Double
    /// Price of input tokens written to a prompt cache; `input` when the provider charges nothing extra.
    public var cacheWrite: Double
    /// The prices of a call whose prompt is longer than a threshold (Gemini's above 200k tokens): the
    /// whole call, input and output, is then priced at them.
    public var longContext: LongContextPrice?

    public init(
        input: Double, output: Double, cachedInput: Double? = nil, cacheWrite: Double? = nil, longContext: LongContextPrice? = nil
    ) {
        self.longContext = longContext
        self.input = input
        self.output = output
        self.cachedInput = cachedInput ?? input
        self.cacheWrite = cacheWrite ?? input
    }

    /// The cost of `usage`, rounded up to the next nanodollar so that spend is never under-counted.
    ///
    /// Computed in integers: a price of USD per million tokens is picodollars per token × 10⁻⁶, exact
    /// for any price with up to six decimals, so 0.40 × 8 + 0.10 × 3 is 3.5 µ$, not 3.5000000000000004.
    ///
    /// Token counts and prices come from outside (a provider's usage fields, the config), so every step
    /// saturates: an absurd count costs the most a `Money` holds, never a trap.
    public func cost(of usage: Usage) -> Money {
        if let tier = longContext, usage.inputTokens > tier.aboveInputTokens {
            return ModelPrice(input: tier.input, output: tier.output, cachedInput: tier.cachedInput, cacheWrite: cacheWrite).cost(
                of: usage)
        }
        func picodollarsPerToken(_ price: Double) -> Int64 {
            let scaled = (price * 1_000_000).rounded()
            return scaled.isNaN || scaled <= 0 ? 0 : scaled >= 9.2e18 ? .max : Int64(scaled)
        }
        func term(_ tokens: Int, _ price: Double) -> Int64 {
            Int64.saturating(Int64(clamping: Swift.max(0, tokens)), times: picodollarsPerToken(price))
        }
        let uncached = Swift.max(0, usage.inputTokens - usage.cachedInputTokens - usage.cacheWriteTokens)
        let picodollars = [
            term(uncached, input), term(usage.cachedInputTokens, cachedInput), term(usage.cacheWriteTokens, cacheWrite),
            term(usage.outputTokens, output),
        ].reduce(0) { Int64.saturating($0, plus: $1) }
        let (nanos, remainder) = picodollars.quotientAndRemainder(dividingBy: 1000)
        return Money(nanos: nanos + (remainder > 0 ? 1 : 0))
    }
}

/// Prices for prompts longer than `aboveInputTokens`, in US dollars per million tokens.
public struct LongContextPrice: Sendable, Hashable, Codable {
    public var aboveInputTokens: Int
    public var input: Double
    public var output: Double
    public var cachedInput: Double

    public init(aboveInputTokens: Int, input: Double, output: Double, cachedInput: Double? = nil) {
        self.aboveInputTokens = aboveInputTokens
        self.input = input
        self.output = output
        self.cachedInput = cachedInput ?? input
    }
}
