import Foundation
import Testing

@testable import PerimeterCore

@Suite struct ProviderKeyTests {
    let now = Date(timeIntervalSince1970: 1_790_000_000)

    @Test func hintsMatchTheHeldSecretByItsVisibleEnds() {
        let anthropic = Secret("sk-ant-api03-R2Dx7Qm0aB3cD4eF5gH6iJ7kL8mN9oP0qR1sT2uV3wX4yZ5-igAA")
        #expect(ProviderKeyHint.matches(hint: "sk-ant-api03-R2D...igAA", secret: anthropic))
        #expect(!ProviderKeyHint.matches(hint: "sk-ant-api03-R2D...igAB", secret: anthropic))
        #expect(!ProviderKeyHint.matches(hint: "sk-ant-api03-R2E...igAA", secret: anthropic))
        // OpenAI keeps the key's length: one '*' per hidden character.
        let body = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHexcA"
        let openAI = Secret("sk-proj-" + body)
        let redacted = "sk-proj-" + String(repeating: "*", count: body.count - 4) + "excA"
        #expect(ProviderKeyHint.matches(hint: redacted, secret: openAI))
        #expect(!ProviderKeyHint.matches(hint: redacted + "*", secret: openAI), "a different length is another key")
        #expect(ProviderKeyHint.matches(hint: "sk-proj-...excA", secret: openAI))
        // A service account's key shows only part of its fixed prefix: those characters tell nothing apart.
        let service = Secret("sk-svcacct-" + body)
        #expect(!ProviderKeyHint.matches(hint: "sk-svcac...A", secret: service))
        #expect(ProviderKeyHint.matches(hint: "sk-svcac" + String(repeating: "*", count: body.count - 1) + "excA", secret: service))
        // Too little shown to tell keys apart, or nothing at one end: never a match.
        for weak in ["sk-...A", "sk-proj-...", "...excA", "sk-proj-excA", "", "sk-proj-**", "sk-proj-**ex**cA"] {
            #expect(!ProviderKeyHint.matches(hint: weak, secret: openAI), "\(weak)")
        }
    }

    @Test func flagsSayWhatIsWrongWithAProviderKey() {
        let day: TimeInterval = 86400
        let old = ProviderKey(
            provider: "openai", id: "key_old", kind: "api_key", createdAt: now.addingTimeInterval(-400 * day),
            lastUsedAt: now.addingTimeInterval(-100 * day), reportsLastUse: true)
        let assessed = ProviderKeyAssessment.assess(old, heldAs: nil, maxAge: .seconds(365 * 86400), now: now)
        #expect(assessed.flags == ["unmanaged", "unused_90d", "over_max_age"] && assessed.ageDays == 400)
        // Held by the gateway: not unmanaged; recently used: not unused.
        var held = old
        held.lastUsedAt = now.addingTimeInterval(-day)
        #expect(ProviderKeyAssessment.assess(held, heldAs: "env:OPENAI_API_KEY", maxAge: nil, now: now).flags.isEmpty)
        // Never used counts from creation, where the provider reports use at all.
        let fresh = ProviderKey(
            provider: "openai", id: "k2", kind: "api_key", createdAt: now.addingTimeInterval(-10 * day), reportsLastUse: true)
        #expect(ProviderKeyAssessment.assess(fresh, heldAs: "x", maxAge: nil, now: now).flags.isEmpty)
        let anthropic = ProviderKey(provider: "anthropic", id: "k3", kind: "api_key", createdAt: now.addingTimeInterval(-200 * day))
        #expect(ProviderKeyAssessment.assess(anthropic, heldAs: nil, maxAge: nil, now: now).flags == ["unmanaged"])
        var inactive = anthropic
        inactive.status = "inactive"
        #expect(ProviderKeyAssessment.assess(inactive, heldAs: nil, maxAge: nil, now: now).flags.isEmpty)
    }

    @Test func shadowUsageIsWhatTheProviderReportsBeyondTheLogAndItsTolerance() {
        let hour = now
        func bucket(_ tokens: Int, key: String? = "key_held") -> ProviderUsageBucket {
            ProviderUsageBucket(start: hour, end: hour.addingTimeInterval(3600), keyID: key, inputTokens: tokens, outputTokens: 0)
        }
        #expect(ShadowUsage.find(buckets: [bucket(100_000)], keyID: "key_held", logged: [hour: 99_000]).isEmpty)
        #expect(ShadowUsage.find(buckets: [bucket(102_000)], keyID: "key_held", logged: [hour: 100_000]).isEmpty)
        let found = ShadowUsage.find(buckets: [bucket(102_001)], keyID: "key_held", logged: [hour: 100_000])
        #expect(found.map(\.excessTokens) == [2_001])
        #expect(ShadowUsage.find(buckets: [bucket(1_001)], keyID: "key_held", logged: [:]).count == 1)
        #expect(ShadowUsage.find(buckets: [bucket(50_000, key: "key_other")], keyID: "key_held", logged: [:]).isEmpty)
    }
}
