import Foundation
import Testing

@testable import PerimeterProxy

@Suite struct UnknownKeyGuardTests {
    let start = Date(timeIntervalSince1970: 1_790_000_000)

    @Test func anAddressIsSlowedFromTheCallThatMakesItABurstUntilAQuietWindow() {
        let guarding = UnknownKeyGuard(count: 3, window: 30)
        guarding.recordUnknownKey(from: "203.0.113.9", at: start)
        guarding.recordUnknownKey(from: "203.0.113.9", at: start + 1)
        #expect(!guarding.isSlowed("203.0.113.9", at: start + 1))
        guarding.recordUnknownKey(from: "203.0.113.9", at: start + 2)
        #expect(guarding.isSlowed("203.0.113.9", at: start + 2))
        // Another address, and no address at all, are not slowed.
        #expect(!guarding.isSlowed("198.51.100.1", at: start + 2))
        #expect(!guarding.isSlowed(nil, at: start + 2))
        // Guessing on extends the slow-down; a quiet window ends it.
        guarding.recordUnknownKey(from: "203.0.113.9", at: start + 25)
        #expect(guarding.isSlowed("203.0.113.9", at: start + 50))
        #expect(!guarding.isSlowed("203.0.113.9", at: start + 56))
    }

    @Test func keysSpreadOverMoreThanAWindowAreNoBurst() {
        let guarding = UnknownKeyGuard(count: 3, window: 10)
        for second in stride(from: 0.0, to: 60, by: 6) {
            guarding.recordUnknownKey(from: "203.0.113.9", at: start + second)
            #expect(!guarding.isSlowed("203.0.113.9", at: start + second))
        }
    }

    @Test func pruningQuietAddressesKeepsASlowedOne() {
        let guarding = UnknownKeyGuard(count: 2, window: 10)
        guarding.recordUnknownKey(from: "203.0.113.9", at: start)
        guarding.recordUnknownKey(from: "203.0.113.9", at: start + 1)
        // Many other addresses, each once, over more than a window: the guard prunes as it goes.
        for index in 0..<200 {
            guarding.recordUnknownKey(from: "198.51.100.\(index)", at: start + 2 + Double(index) * 0.04)
        }
        #expect(guarding.isSlowed("203.0.113.9", at: start + 10.5))
    }
}
