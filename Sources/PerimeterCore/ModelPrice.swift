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
    ///
    /// Computed in integers: a price of USD per million tokens is picodollars per token × 10⁻⁶, exact
    /// for any price with up to six decimals, so 0.40 × 8 + 0.10 × 3 is 3.5 µ$, not 3.5000000000000004.
    public func cost(of usage: Usage) -> Money {
        func picodollarsPerToken(_ price: Double) -> Int64 { Int64((price * 1_000_000).rounded()) }
        let uncached = Int64(max(0, usage.inputTokens - usage.cachedInputTokens - usage.cacheWriteTokens))
        let picodollars =
            uncached * picodollarsPerToken(input) + Int64(usage.cachedInputTokens) * picodollarsPerToken(cachedInput)
            + Int64(usage.cacheWriteTokens) * picodollarsPerToken(cacheWrite) + Int64(usage.outputTokens) * picodollarsPerToken(output)
        let (nanos, remainder) = picodollars.quotientAndRemainder(dividingBy: 1000)
        return Money(nanos: nanos + (remainder > 0 ? 1 : 0))
    }
}
