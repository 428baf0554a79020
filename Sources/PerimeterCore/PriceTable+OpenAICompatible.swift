extension PriceTable {
    /// The OpenAI-compatible vendors of the README's presets, from each vendor's published price list
    /// (USD per million tokens, standard tier, pay as you go), with the month each was taken. Names are
    /// the ones each vendor's API takes; a dated or `-latest` form extends them (see ``isSnapshotSuffix``).
    /// vLLM and Ollama run the operator's own hardware: their models cost what config says, or nothing.
    static let openAICompatibleLists: [PriceList] = {
        let grok4Fast = ModelPrice(
            input: 0.20, output: 0.50, cachedInput: 0.05,
            longContext: LongContextPrice(aboveInputTokens: 128_000, input: 0.40, output: 1, cachedInput: 0.05))
        return [
            // api-docs.deepseek.com, Models & Pricing: DeepSeek-V3.2 behind both names; cached input is a cache hit.
            PriceList(
                vendor: "DeepSeek", listed: "2025-10",
                prices: [
                    "deepseek-chat": ModelPrice(input: 0.28, output: 0.42, cachedInput: 0.028),
                    "deepseek-reasoner": ModelPrice(input: 0.28, output: 0.42, cachedInput: 0.028),
                ]),
            // groq.com/pricing, on-demand.
            PriceList(
                vendor: "Groq", listed: "2025-10",
                prices: [
                    "llama-3.3-70b-versatile": ModelPrice(input: 0.59, output: 0.79),
                    "llama-3.1-8b-instant": ModelPrice(input: 0.05, output: 0.08),
                    "meta-llama/llama-4-maverick-17b-128e-instruct": ModelPrice(input: 0.20, output: 0.60),
                    "meta-llama/llama-4-scout-17b-16e-instruct": ModelPrice(input: 0.11, output: 0.34),
                    "openai/gpt-oss-120b": ModelPrice(input: 0.15, output: 0.60, cachedInput: 0.075),
                    "openai/gpt-oss-20b": ModelPrice(input: 0.075, output: 0.30, cachedInput: 0.0375),
                    "qwen/qwen3-32b": ModelPrice(input: 0.29, output: 0.59),
                    "moonshotai/kimi-k2-instruct": ModelPrice(input: 1, output: 3),
                ]),
            // mistral.ai/pricing, API.
            PriceList(
                vendor: "Mistral AI", listed: "2025-10",
                prices: [
                    "mistral-large": ModelPrice(input: 2, output: 6),
                    "mistral-medium": ModelPrice(input: 0.40, output: 2),
                    "mistral-small": ModelPrice(input: 0.10, output: 0.30),
                    "magistral-medium": ModelPrice(input: 2, output: 5),
                    "magistral-small": ModelPrice(input: 0.50, output: 1.50),
                    "codestral": ModelPrice(input: 0.30, output: 0.90),
                    "devstral-medium": ModelPrice(input: 0.40, output: 2),
                    "devstral-small": ModelPrice(input: 0.10, output: 0.30),
                    "pixtral-large": ModelPrice(input: 2, output: 6),
                    "ministral-8b": ModelPrice(input: 0.10, output: 0.10),
                    "ministral-3b": ModelPrice(input: 0.04, output: 0.04),
                    "open-mistral-nemo": ModelPrice(input: 0.15, output: 0.15),
                    "mistral-embed": ModelPrice(input: 0.10, output: 0),
                ]),
            // docs.x.ai, Models and Pricing. Prompts above 128k tokens cost more on Grok 4 and Grok 4 Fast.
            PriceList(
                vendor: "xAI", listed: "2025-10",
                prices: [
                    "grok-4": ModelPrice(
                        input: 3, output: 15, cachedInput: 0.75,
                        longContext: LongContextPrice(aboveInputTokens: 128_000, input: 6, output: 30, cachedInput: 0.75)),
                    "grok-4-fast": grok4Fast,
                    "grok-4-fast-reasoning": grok4Fast,
                    "grok-4-fast-non-reasoning": grok4Fast,
                    "grok-code-fast-1": ModelPrice(input: 0.20, output: 1.50, cachedInput: 0.02),
                    "grok-3": ModelPrice(input: 3, output: 15, cachedInput: 0.75),
                    "grok-3-mini": ModelPrice(input: 0.30, output: 0.50, cachedInput: 0.075),
                ]),
            // together.ai/pricing, serverless inference.
            PriceList(
                vendor: "Together AI", listed: "2025-10",
                prices: [
                    "meta-llama/Llama-3.3-70B-Instruct-Turbo": ModelPrice(input: 0.88, output: 0.88),
                    "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo": ModelPrice(input: 0.18, output: 0.18),
                    "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo": ModelPrice(input: 0.88, output: 0.88),
                    "meta-llama/Meta-Llama-3.1-405B-Instruct-Turbo": ModelPrice(input: 3.50, output: 3.50),
                    "meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8": ModelPrice(input: 0.27, output: 0.85),
                    "meta-llama/Llama-4-Scout-17B-16E-Instruct": ModelPrice(input: 0.18, output: 0.59),
                    "deepseek-ai/DeepSeek-V3": ModelPrice(input: 1.25, output: 1.25),
                    "deepseek-ai/DeepSeek-R1": ModelPrice(input: 3, output: 7),
                    "Qwen/Qwen2.5-72B-Instruct-Turbo": ModelPrice(input: 1.20, output: 1.20),
                    "mistralai/Mixtral-8x7B-Instruct-v0.1": ModelPrice(input: 0.60, output: 0.60),
                ]),
        ]
    }()
}
