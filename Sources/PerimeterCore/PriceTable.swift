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
        entryName(for: model).flatMap { prices[$0] }
    }

    /// The name of the entry that prices `model`: itself, the listed model it is a snapshot of, or
    /// for a Bedrock id the model it names (`us.anthropic.claude-sonnet-4-20250514-v1:0`).
    public func entryName(for model: String) -> String? {
        if prices[model] != nil { return model }
        for name in namesLongestFirst where model.hasPrefix(name) {
            if Self.isSnapshotSuffix(model.dropFirst(name.count)) { return name }
        }
        if let alias = BedrockModelID.priceName(model) ?? Self.routedPriceName(model) { return entryName(for: alias) }
        return nil
    }

    /// A router's name for a vendor's model (OpenRouter's `openai/gpt-4o`, `anthropic/claude-sonnet-4.5`,
    /// `google/gemini-2.5-flash`, `x-ai/grok-4`): the vendor's own name, since the router passes the
    /// vendor's list price on. Anthropic's versions are written with dots there and dashes here.
    static func routedPriceName(_ model: String) -> String? {
        guard let slash = model.firstIndex(of: "/") else { return nil }
        let name = model[model.index(after: slash)...]
        switch model[..<slash] {
        case "openai", "google", "x-ai": return String(name)
        case "anthropic": return name.replacingOccurrences(of: ".", with: "-")
        default: return nil
        }
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
    /// One vendor's list prices, with the month they were taken from the vendor's published list.
    public struct PriceList: Sendable {
        public var vendor: String
        public var listed: String
        public var prices: [String: ModelPrice]
    }

    /// Where a built-in price comes from: the vendor's list, and when it was taken.
    public static func builtInSource(of name: String) -> PriceList? {
        builtInLists.first { $0.prices[name] != nil }
    }

    static let builtInPrices: [String: ModelPrice] = builtInLists.reduce(into: [:]) { table, list in
        table.merge(list.prices) { first, _ in first }
    }

    /// Public list prices in USD per million tokens (standard tier, prompts under any long-context
    /// surcharge). Anthropic's cache writes are the 5-minute rate. Prices that rise with the prompt's
    /// length are computed where the tiers are known (Gemini's Pro models above 200k tokens); models whose
    /// tiers are not (such as Haiku 5.5) are left out rather than guessed: a budgeted key gets
    /// `price_unknown` until config gives a price.
    static let builtInLists: [PriceList] = {
        func anthropic(_ input: Double, _ output: Double) -> ModelPrice {
            ModelPrice(input: input, output: output, cachedInput: input / 10, cacheWrite: input * 1.25)
        }
        return [
            PriceList(
                vendor: "OpenAI", listed: "2026-11",
                prices: [
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
                ]),
            PriceList(
                vendor: "Anthropic", listed: "2026-11",
                prices: [
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
                ]),
            // Gemini API, paid tier. Prompts above 200k tokens cost more on the Pro models.
            PriceList(
                vendor: "Google", listed: "2026-11",
                prices: [
                    "gemini-3-pro-preview": ModelPrice(
                        input: 2, output: 12, cachedInput: 0.20,
                        longContext: LongContextPrice(aboveInputTokens: 200_000, input: 4, output: 18, cachedInput: 0.40)),
                    "gemini-2.5-pro": ModelPrice(
                        input: 1.25, output: 10, cachedInput: 0.125,
                        longContext: LongContextPrice(aboveInputTokens: 200_000, input: 2.50, output: 15, cachedInput: 0.25)),
                    "gemini-2.5-flash": ModelPrice(input: 0.30, output: 2.50, cachedInput: 0.03),
                    "gemini-2.5-flash-lite": ModelPrice(input: 0.10, output: 0.40, cachedInput: 0.01),
                    "gemini-2.0-flash": ModelPrice(input: 0.10, output: 0.40, cachedInput: 0.025),
                    "gemini-2.0-flash-lite": ModelPrice(input: 0.075, output: 0.30),
                    "gemini-1.5-pro": ModelPrice(input: 1.25, output: 5),
                    "gemini-1.5-flash": ModelPrice(input: 0.075, output: 0.30, cachedInput: 0.01875),
                    "gemini-embedding-001": ModelPrice(input: 0.15, output: 0),
                    "text-embedding-004": ModelPrice(input: 0, output: 0),
                ]),
            // On-demand in US East (N. Virginia). Claude on Bedrock bills as Anthropic's list (see
            // BedrockModelID); `:0` versions extend these names.
            PriceList(
                vendor: "Amazon Bedrock", listed: "2025-10",
                prices: [
                    "amazon.nova-premier-v1": ModelPrice(input: 2.50, output: 12.50),
                    "amazon.nova-pro-v1": ModelPrice(input: 0.80, output: 3.20, cachedInput: 0.20),
                    "amazon.nova-lite-v1": ModelPrice(input: 0.06, output: 0.24, cachedInput: 0.015),
                    "amazon.nova-micro-v1": ModelPrice(input: 0.035, output: 0.14, cachedInput: 0.00875),
                    "amazon.titan-embed-text-v2": ModelPrice(input: 0.02, output: 0),
                    "amazon.titan-embed-text-v1": ModelPrice(input: 0.10, output: 0),
                    "meta.llama3-1-405b-instruct-v1": ModelPrice(input: 2.40, output: 2.40),
                    "meta.llama3-3-70b-instruct-v1": ModelPrice(input: 0.72, output: 0.72),
                    "meta.llama3-2-90b-instruct-v1": ModelPrice(input: 0.72, output: 0.72),
                    "meta.llama3-1-70b-instruct-v1": ModelPrice(input: 0.72, output: 0.72),
                    "meta.llama3-2-11b-instruct-v1": ModelPrice(input: 0.16, output: 0.16),
                    "meta.llama3-1-8b-instruct-v1": ModelPrice(input: 0.22, output: 0.22),
                    "meta.llama3-2-3b-instruct-v1": ModelPrice(input: 0.15, output: 0.15),
                    "meta.llama3-2-1b-instruct-v1": ModelPrice(input: 0.10, output: 0.10),
                    "mistral.mistral-large-2402-v1": ModelPrice(input: 4, output: 12),
                    "mistral.mistral-small-2402-v1": ModelPrice(input: 1, output: 3),
                    "mistral.mixtral-8x7b-instruct-v0": ModelPrice(input: 0.45, output: 0.70),
                    "mistral.mistral-7b-instruct-v0": ModelPrice(input: 0.15, output: 0.20),
                    "cohere.embed-english-v3": ModelPrice(input: 0.10, output: 0),
                    "cohere.embed-multilingual-v3": ModelPrice(input: 0.10, output: 0),
                ]),
        ] + openAICompatibleLists
    }()
}
