import Foundation
import Testing

@testable import PerimeterCore

@Suite struct PricingTests {
    let table = PriceTable.builtIn()

    @Test func datedSnapshotsTakeTheirFamilysPrice() throws {
        #expect(table.price(for: "gpt-4o-mini-2024-07-18") == table.price(for: "gpt-4o-mini"))
        #expect(table.price(for: "gpt-4o-2024-08-06") == table.price(for: "gpt-4o"))
        #expect(table.price(for: "gpt-4o-mini")?.input == 0.15)
        #expect(table.price(for: "claude-sonnet-4-5-20250929")?.output == 15)
        #expect(table.price(for: "claude-opus-4-1-20250805")?.input == 15)
        #expect(table.price(for: "claude-opus-4-5-20251101")?.input == 5)
    }

    @Test func variantsThatBillDifferentlyAreNotGuessed() {
        #expect(table.price(for: "gpt-5.2-pro") == nil)
        #expect(table.price(for: "gpt-4o-audio-preview") == nil)
        #expect(table.price(for: "gpt-4o-mini-2024-07") == nil)
        #expect(table.price(for: "gpt-4-0613") == table.price(for: "gpt-4"))
        #expect(table.price(for: "claude-3-5-sonnet@20240620") == table.price(for: "claude-3-5-sonnet"))
        #expect(table.price(for: "gpt-5.1-latest") == table.price(for: "gpt-5.1"))
    }

    @Test func theOpenAICompatiblePresetsArePriced() throws {
        #expect(table.price(for: "deepseek-chat") == ModelPrice(input: 0.28, output: 0.42, cachedInput: 0.028))
        #expect(table.price(for: "mistral-large-latest") == table.price(for: "mistral-large"))
        #expect(table.price(for: "mistral-small-2506")?.output == 0.30)
        #expect(table.price(for: "llama-3.3-70b-versatile")?.input == 0.59)
        #expect(table.price(for: "meta-llama/Llama-3.3-70B-Instruct-Turbo")?.input == 0.88)
        #expect(table.price(for: "grok-4-0709") == table.price(for: "grok-4"))
        // Grok 4 above 128k prompt tokens: the whole call at the higher tier.
        let grok = try #require(table.price(for: "grok-4"))
        #expect(grok.cost(of: Usage(inputTokens: 128_001, outputTokens: 1000)) == Money(nanos: 128_001 * 6_000 + 1000 * 30_000))
        #expect(grok.cost(of: Usage(inputTokens: 1000, outputTokens: 1000)) == Money(nanos: 1000 * 3_000 + 1000 * 15_000))
        // OpenRouter's names for closed models are the vendor's list price; open models vary by host.
        #expect(table.price(for: "openai/gpt-4o") == table.price(for: "gpt-4o"))
        #expect(table.price(for: "anthropic/claude-sonnet-4.5") == table.price(for: "claude-sonnet-4-5"))
        #expect(table.price(for: "google/gemini-2.5-flash") == table.price(for: "gemini-2.5-flash"))
        #expect(table.price(for: "meta-llama/llama-3.3-70b-instruct") == nil)
        #expect(table.price(for: "anthropic/") == nil)
    }

    @Test func bedrockARNsNameTheirModelsOrTheAccountsOwnResource() throws {
        let profile = try #require(
            BedrockARN("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-20250514-v1:0"))
        #expect(profile.modelID == "us.anthropic.claude-sonnet-4-20250514-v1:0" && profile.account == "123456789012")
        let foundation = try #require(BedrockARN("arn:aws-us-gov:bedrock:us-gov-west-1::foundation-model/amazon.nova-pro-v1:0"))
        #expect(foundation.modelID == "amazon.nova-pro-v1:0")
        for own in [
            "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/a1b2c3d4e5f6",
            "arn:aws:bedrock:us-east-1:111122223333:provisioned-model/abc123",
            "arn:aws:bedrock:us-east-1:111122223333:custom-model/amazon.titan-text-express-v1:0:8k/abc123",
        ] {
            let arn = try #require(BedrockARN(own), "\(own)")
            #expect(arn.modelID == nil)
        }
        for bad in [
            "arn:aws:bedrock:us-east-1::foundation-model/../x", "arn:aws:s3:::bucket/key", "arn:aws:bedrock:us-east-1:12:x/y",
            "arn:aws:bedrock:us-east-1::unknown-type/x", "arn:aws:bedrock::123456789012:inference-profile/x",
            "arn:aws:bedrock:us-east-1::foundation-model/", "arn:aws:bedrock:us-east-1::foundation-model/a%2Fb",
            "arn:aws:bedrock:US-EAST-1::foundation-model/x", "arn:aws:bedrock:us-east-1::foundation-model",
            "arn:aws:bedrock:us-east-1::foundation-model/x//y", "us.anthropic.claude-sonnet-4-20250514-v1:0",
        ] {
            #expect(BedrockARN(bad) == nil, "\(bad)")
        }
    }

    @Test func unknownModelsHaveNoPrice() {
        #expect(table.price(for: "my-finetune") == nil)
        #expect(table.price(for: "gpt-4ox") == nil)
        #expect(table.cost(of: Usage(inputTokens: 10), model: "mystery") == nil)
    }

    @Test func configOverridesAndExtends() {
        let custom = PriceTable.builtIn(overriddenBy: [
            "gpt-4o-mini": ModelPrice(input: 1, output: 2), "my-model": ModelPrice(input: 3, output: 4),
        ])
        #expect(custom.price(for: "gpt-4o-mini-2024-07-18")?.input == 1)
        #expect(custom.price(for: "my-model")?.output == 4)
    }

    @Test func costSplitsCachedAndUncachedInput() {
        let price = ModelPrice(input: 0.15, output: 0.60, cachedInput: 0.075)
        // 1000 uncached × 0.15 + 1000 cached × 0.075 + 500 output × 0.60 = 525 µ$ = 525000 n$.
        let cost = price.cost(of: Usage(inputTokens: 2000, cachedInputTokens: 1000, outputTokens: 500))
        #expect(cost == Money(nanos: 525_000))
    }

    @Test func anthropicCacheWritesCostMore() throws {
        let price = try #require(table.price(for: "claude-sonnet-4-5"))
        let usage = Usage(
            inputTokens: 1_000_000 + 200_000 + 100_000, cachedInputTokens: 200_000, cacheWriteTokens: 100_000, outputTokens: 0)
        // 1M × 3 + 0.2M × 0.30 + 0.1M × 3.75 = 3.435 $
        #expect(price.cost(of: usage) == Money(usd: 3.435))
    }

    @Test func costRoundsUpToTheNanodollar() {
        let price = ModelPrice(input: 0.0001, output: 0)
        #expect(price.cost(of: Usage(inputTokens: 1)) == Money(nanos: 1))
    }

    @Test func moneyPrintsReadably() {
        #expect(Money(usd: 0.000225).description == "$0.000225")
        #expect(Money(usd: 12.5).description == "$12.5000")
        #expect(Money(usd: 1234.567).description == "$1234.57")
        #expect(Money(usd: -0.5).description == "$-0.500000")
    }

    @Test(arguments: [
        ("gpt-*", "gpt-4o", true), ("gpt-*", "o1", false), ("*", "anything", true), ("claude-*-4-5*", "claude-sonnet-4-5-2025", true),
        ("claude-*-4-5*", "claude-sonnet-4", false), ("exact", "exact", true), ("exact", "exactly", false), ("o1*", "o1-mini", true),
        ("a*a", "a", false),
    ])
    func modelPatterns(pattern: String, model: String, matches: Bool) {
        #expect(ModelPattern(pattern).matches(model) == matches)
    }
}

@Suite struct WorstCaseTests {
    @Test func everyAnswerAskedForCountsTheWholeOutputLimit() {
        let one = OutputCeiling.worstCaseUsage(bodyBytes: 100, maxOutputTokens: 50, model: "gpt-4o", operation: .chat)
        let eight = OutputCeiling.worstCaseUsage(bodyBytes: 100, maxOutputTokens: 50, choices: 8, model: "gpt-4o", operation: .chat)
        #expect(one == Usage(inputTokens: 100, outputTokens: 50))
        #expect(eight == Usage(inputTokens: 100, outputTokens: 400))
        let ceiling = OutputCeiling.worstCaseUsage(bodyBytes: 10, maxOutputTokens: nil, choices: 2, model: "gpt-4o", operation: .chat)
        #expect(ceiling.outputTokens == 2 * 16_384)
    }
}

@Suite struct LongContextPricingTests {
    @Test func aPromptAboveTheThresholdPricesTheWholeCallAtTheHigherTier() throws {
        let price = try #require(PriceTable.builtIn().price(for: "gemini-2.5-pro"))
        // 200,000 prompt tokens: the lower tier. 1.25 × 0.2 + 10 × 0.001 = 0.26 USD.
        #expect(price.cost(of: Usage(inputTokens: 200_000, outputTokens: 1000)) == Money(usd: 0.26))
        // One more: every token at the higher tier. 2.50 × 0.200001 + 15 × 0.001 = 0.5150025 USD.
        #expect(price.cost(of: Usage(inputTokens: 200_001, outputTokens: 1000)) == Money(nanos: 515_002_500))
        // Cached tokens at the tier's cache price.
        #expect(price.cost(of: Usage(inputTokens: 300_000, cachedInputTokens: 100_000)) == Money(usd: 0.525))
    }
}

@Suite struct PlainNameTests {
    @Test func onlyNamesThatCannotSteerAPathPass() {
        #expect(PlainName.isValid("gpt-4o-mini", punctuation: "-._:", maxLength: 200))
        #expect(PlainName.isValid("ft:gpt-4o:acme::x1", punctuation: "-._:", maxLength: 200))
        for bad in ["", ".hidden", "-x", "a/b", "a%2Fb", "..", "é", String(repeating: "a", count: 201)] {
            #expect(!PlainName.isValid(bad, punctuation: "-._:", maxLength: 200), "\(bad)")
        }
        #expect(!PlainName.isValid("a:b", punctuation: "-._", maxLength: 200))
    }

    @Test func aWaitWithADeadlineHoldsEvenWhenItsCallerIsCancelled() async {
        let waited = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await finishes(within: .seconds(5)) { try? await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(await waited.value)
        #expect(await finishes(within: .milliseconds(50)) { try? await Task.sleep(for: .seconds(5)) } == false)
    }

    @Test func everyBuiltInPriceSaysWhereAndWhenItWasListed() {
        let lists = PriceTable.builtInLists
        let names = lists.flatMap { $0.prices.keys }
        #expect(Set(names).count == names.count, "a model is listed by one vendor only")
        for name in names {
            let source = PriceTable.builtInSource(of: name)
            #expect(source != nil && source!.listed.range(of: #"^20[0-9]{2}-[01][0-9]$"#, options: .regularExpression) != nil, "\(name)")
        }
        let table = PriceTable.builtIn()
        #expect(table.entryName(for: "gpt-4o-mini-2024-07-18") == "gpt-4o-mini")
        #expect(table.entryName(for: "eu.anthropic.claude-3-haiku-20240307-v1:0") == "claude-3-haiku")
        #expect(table.entryName(for: "gpt-4o-mini-audio") == nil)
    }
}
