import Foundation
import Testing

@testable import PerimeterCore

/// Numbers from outside (admin JSON, config, a provider's usage fields) can be anything: none of them
/// may trap the process. Each class of conversion has its case here.
@Suite struct HostileNumberTests {
    @Test(arguments: [1.6e308, Double.infinity, 9.3e9, 1e19])
    func dollarsBeyondRangeSaturateAndAreNotExact(usd: Double) {
        #expect(Money(usd: usd) == .max)
        #expect(Money(usd: -usd) == Money(nanos: .min))
        #expect(Money(exactly: usd) == nil)
    }

    @Test func notANumberIsZeroAndNotExact() {
        #expect(Money(usd: .nan) == .zero)
        #expect(Money(exactly: .nan) == nil)
        #expect(Money(exactly: 12.5) == Money(nanos: 12_500_000_000))
    }

    @Test func sumsSaturateInsteadOfOverflowing() {
        #expect(Money.max + Money(nanos: 1) == .max)
        #expect(Money(nanos: .min) - Money(nanos: 1) == Money(nanos: .min))
        #expect(Money(nanos: 5) - Money(nanos: .min) == .max)
        #expect(Money(nanos: 7) - Money(nanos: 3) == Money(nanos: 4))
    }

    @Test(arguments: ["1.6e308", "1e400", "-1e30", "\"many\""])
    func decodingAnAmountNoMoneyHoldsIsAnErrorNotATrap(json: String) {
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Money.self, from: Data(json.utf8)) }
    }

    @Test func aHugeBudgetDecodesSaturatedForValidationToRefuse() throws {
        let budget = try JSONDecoder().decode(Budget.self, from: Data(#"{"usd":1.6e308,"period":"week"}"#.utf8))
        #expect(budget.limit == .max)
    }

    @Test func absurdUsageOrPricesCostTheMostAMoneyHolds() {
        let price = ModelPrice(input: 1e6, output: 1e300, cachedInput: .nan, cacheWrite: -5)
        let usage = Usage(inputTokens: Int.max, cachedInputTokens: 1 << 50, cacheWriteTokens: 1 << 50, outputTokens: Int.max)
        #expect(price.cost(of: usage) <= .max)
        #expect(price.cost(of: usage) > Money(usd: 1_000_000))
        #expect(ModelPrice(input: 1, output: 2).cost(of: Usage(inputTokens: 1_000_000, outputTokens: 1_000_000)) == Money(usd: 3))
    }

    @Test(arguments: ["1e300d", "1e20w", "4000000000s", "inf" + "s", "nans"])
    func durationsBeyondACenturyAreRefused(text: String) {
        #expect(TimeWindow.seconds(text) == nil)
    }

    @Test func aCenturyIsTheLongestDuration() throws {
        let century = try #require(TimeWindow.seconds("36600d"))
        #expect(Int64(exactly: century) != nil)
        #expect(TimeWindow.seconds("36601d") == nil)
    }
}
