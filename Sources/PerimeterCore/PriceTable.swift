/// Prices by model name: the built-in table of public list prices, overridden and extended by config.
///
/// A dated or suffixed model name (`gpt-4o-mini-2024-07-18`, `claude-sonnet-4-5-20250929`) takes the
/// price of the longest listed name it extends at a `-` boundary, so new snapshots are priced on day one
/// and `gpt-4o-mini` never falls back to `gpt-4o`.
public struct PriceTable: Sendable {
    private var prices: [String: ModelPrice]
    private var namesLongestFirst: [String]

    public init(_ prices: [String: ModelPrice]) {
        self.prices = prices
        namesLongestFirst = prices.keys.sorted { $0.count != $1.count ? $0.count > $1.count : $0 < $1 }
    }

    /// The built-in table with `overrides` applied on top.
    public static func builtIn(overriddenBy overrides: [String: ModelPrice] = [:]) -> PriceTable {
        PriceTable(builtInPrices.merging(overrides) { _, override in override })
    }

    public func price(for model: String) -> ModelPrice? {
        if let exact = prices[model] { return exact }
        for name in namesLongestFirst where model.hasPrefix(name) {
            if Self.isSnapshotSuffix(model.dropFirst(name.count)) { return prices[name] }
        }
        return nil
    }

    /// A dated snapshot or alias of the same model (`-2024-07-18`, `-20250929`, `-0613`, `-latest`,
    /// `@20240620`, `:0`), which bills like the model. Any other suffix (`-pro`, `-audio-preview`,
    /// `-nano`) names a different model with a different price, so it gets none rather than a wrong one.
    static func isSnapshotSuffix(_ suffix: Substring) -> Bool {
        guard let first = suffix.first else { return false }
        let rest = suffix.dropFirst()
        switch first {
        case "@", ":":
            return !rest.isEmpty
        case "-":
            if rest == "latest" { return true }
            let digits = rest.filter { $0 != "-" }
            let isDate = rest.count == 10 && rest.split(separator: "-").map(\.count) == [4, 2, 2]
            return digits.allSatisfy(\.isNumber) && (isDate || (rest.allSatisfy(\.isNumber) && [4, 8].contains(rest.count)))
        default:
            return false
        }
    }

    /// The cost of `usage` on `model`, or `nil` when the model has no known price.
    public func cost(of usage: Usage, model: String) -> Money? {
        price(for: model)?.cost(of: usage)
    }

    public var entries: [(model: String, price: ModelPrice)] {
        prices.keys.sorted().map { ($0, prices[$0]!) }
    }
}

extension PriceTable {
    /// Public list prices in USD per million tokens (standard tier, prompts under any long-context
    /// surcharge), as published by OpenAI, Anthropic and Google through late 2026. Anthropic's cache
    /// writes are the 5-minute rate. Models with tiered prices by prompt length (such as Haiku 5.5) are
    /// left out rather than guessed: a budgeted key gets `price_unknown` until config gives a price.
    static let builtInPrices: [String: ModelPrice] = {
        func anthropic(_ input: Double, _ output: Double) -> ModelPrice {
            ModelPrice(input: input, output: output, cachedInput: input / 10, cacheWrite: input * 1.25)
        }
        return [
            // OpenAI
            "gpt-5.4": ModelPrice(input: 2.50, output: 15, cachedInput: 0.25),
            "gpt-5.4-mini": ModelPrice(input: 0.75, output: 4.50, cachedInput: 0.075),
            "gpt-5.2": ModelPrice(input: 1.75, output: 14, cachedInput: 0.175),
            "gpt-5.1": ModelPrice(input: 1.25, output: 10, cachedInput: 0.125),
            "gpt-5": ModelPrice(input: 1.25, output: 10, cachedInput: 0.125),
            "gpt-5-mini": ModelPrice(input: 0.25, output: 2, cachedInput: 0.025),
            "gpt-5-nano": ModelPrice(input: 0.05, output: 0.40, cachedInput: 0.005),
            "gpt-4.1": ModelPrice(input: 2, output: 8, cachedInput: 0.50),
            "gpt-4.1-mini": ModelPrice(input: 0.40, output: 1.60, cachedInput: 0.10),
            "gpt-4.1-nano": ModelPrice(input: 0.10, output: 0.40, cachedInput: 0.025),
            "gpt-4o": ModelPrice(input: 2.50, output: 10, cachedInput: 1.25),
            "gpt-4o-mini": ModelPrice(input: 0.15, output: 0.60, cachedInput: 0.075),
            "gpt-4-turbo": ModelPrice(input: 10, output: 30),
            "gpt-4": ModelPrice(input: 30, output: 60),
            "gpt-3.5-turbo": ModelPrice(input: 0.50, output: 1.50),
            "o1": ModelPrice(input: 15, output: 60, cachedInput: 7.50),
            "o1-mini": ModelPrice(input: 1.10, output: 4.40, cachedInput: 0.55),
            "o3": ModelPrice(input: 2, output: 8, cachedInput: 0.50),
            "o3-mini": ModelPrice(input: 1.10, output: 4.40, cachedInput: 0.55),
            "o4-mini": ModelPrice(input: 1.10, output: 4.40, cachedInput: 0.275),
            "text-embedding-3-small": ModelPrice(input: 0.02, output: 0),
            "text-embedding-3-large": ModelPrice(input: 0.13, output: 0),
            "text-embedding-ada-002": ModelPrice(input: 0.10, output: 0),
            // Anthropic
            "claude-fable-5-1": ModelPrice(input: 10, output: 50, cachedInput: 0.25, cacheWrite: 12.50),
            "claude-mythos-5-1": ModelPrice(input: 10, output: 50, cachedInput: 0.25, cacheWrite: 12.50),
            "claude-fable-5": anthropic(10, 50),
            "claude-mythos-5": anthropic(10, 50),
            "claude-opus-5-5": ModelPrice(input: 4, output: 20, cachedInput: 0.20, cacheWrite: 5),
            "claude-opus-5": anthropic(5, 25),
            "claude-opus-4-8": anthropic(5, 25),
            "claude-opus-4-7": anthropic(5, 25),
            "claude-opus-4-6": anthropic(5, 25),
            "claude-opus-4-5": anthropic(5, 25),
            "claude-opus-4-1": anthropic(15, 75),
            "claude-opus-4": anthropic(15, 75),
            "claude-sonnet-5-5": ModelPrice(input: 2, output: 10, cachedInput: 0.10, cacheWrite: 2.50),
            "claude-sonnet-5": anthropic(2, 10),
            "claude-sonnet-4-6": anthropic(3, 15),
            "claude-sonnet-4-5": anthropic(3, 15),
            "claude-sonnet-4": anthropic(3, 15),
            "claude-haiku-4-5": anthropic(1, 5),
            "claude-3-7-sonnet": anthropic(3, 15),
            "claude-3-5-sonnet": anthropic(3, 15),
            "claude-3-5-haiku": anthropic(0.80, 4),
            "claude-3-opus": anthropic(15, 75),
            "claude-3-haiku": ModelPrice(input: 0.25, output: 1.25, cachedInput: 0.03, cacheWrite: 0.30),
            // Google
            "gemini-2.5-pro": ModelPrice(input: 1.25, output: 10, cachedInput: 0.31),
            "gemini-2.5-flash": ModelPrice(input: 0.30, output: 2.50, cachedInput: 0.075),
            "gemini-2.5-flash-lite": ModelPrice(input: 0.10, output: 0.40, cachedInput: 0.025),
            "gemini-2.0-flash": ModelPrice(input: 0.10, output: 0.40, cachedInput: 0.025),
            "gemini-2.0-flash-lite": ModelPrice(input: 0.075, output: 0.30),
            "gemini-1.5-pro": ModelPrice(input: 1.25, output: 5),
            "gemini-1.5-flash": ModelPrice(input: 0.075, output: 0.30, cachedInput: 0.01875),
        ]
    }()
}
