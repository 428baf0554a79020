import Foundation
import PerimeterCore
import PerimeterStorage
import Testing

@testable import PerimeterProxy

/// Instances sharing a database split a key's per-minute limits by the demand each sees.
@Suite struct RateLimiterShareTests {
    static let t0 = Date(timeIntervalSince1970: 1_790_000_000)

    func key(rpm: Int) -> VirtualKey {
        var key = VirtualKey.issue(name: "svc", env: "dev", owner: nil, now: Self.t0).0
        key.policy.requestsPerMinute = rpm
        return key
    }

    func admitted(_ limiter: RateLimiter, _ key: VirtualKey, calls: Int, at now: Date = t0) -> Int {
        (0..<calls).filter { _ in (try? limiter.admit(key, now: now).get()) != nil }.count
    }

    @Test func threeInstancesTogetherAdmitAtMostTheLimit() {
        let key = key(rpm: 30)
        let limiters = (0..<3).map { _ in RateLimiter() }
        for limiter in limiters { limiter.setShares(instances: 3, elsewhere: [:], now: Self.t0) }
        // An even spread, as a load balancer sends it: the whole limit, no more.
        #expect(limiters.map { admitted($0, key, calls: 20) }.reduce(0, +) == 30)
    }

    @Test func withoutDemandTheSplitIsEvenAndNeverNothing() {
        #expect(RateShare.share(of: 30, instances: 4, here: 0, elsewhere: 0) == 7)
        #expect(RateShare.share(of: 2, instances: 3, here: 0, elsewhere: 0) == 1)
        #expect(RateShare.share(of: 30, instances: 0, here: 5, elsewhere: 9) == 30)
        #expect(RateShare.share(of: 30, instances: 1, here: 0, elsewhere: 9) == 30)
    }

    @Test func demandMovesTheShareAndAnIdleInstanceKeepsItsFloor() {
        // 600 a minute over three instances: a floor of 20 each, the other 540 by demand.
        #expect(RateShare.share(of: 600, instances: 3, here: 100, elsewhere: 0) == 560)
        #expect(RateShare.share(of: 600, instances: 3, here: 0, elsewhere: 100) == 20)
        #expect(RateShare.share(of: 600, instances: 3, here: 50, elsewhere: 50) == 290)
    }

    /// Whatever each instance saw, instances that exchanged the same demand never hold more than the limit.
    @Test func sharesOfOneExchangeNeverAddUpToMoreThanTheLimit() {
        var generator = SplitMix(state: 17)
        for _ in 0..<20_000 {
            let instances = Int.random(in: 1...8, using: &generator)
            let limit = Int.random(in: 1...100_000, using: &generator)
            let demands = (0..<instances).map { _ in
                Int.random(in: 0...(Bool.random(using: &generator) ? 10 : 1_000_000), using: &generator)
            }
            let total = demands.reduce(0, +)
            let shares = demands.map { RateShare.share(of: limit, instances: instances, here: $0, elsewhere: total - $0) }
            #expect(shares.allSatisfy { $0 >= 1 })
            // A share is at least one unit, so a limit below the instance count is held once per instance.
            #expect(shares.reduce(0, +) <= max(limit, instances), "limit \(limit) demands \(demands) shares \(shares)")
        }
    }

    /// Three instances exchanging demand each second, and `target` choosing the instance of each
    /// call: how many of `perSecond` calls a second for `seconds` they admit together.
    func clusterAdmits(rpm: Int, perSecond: Int, seconds: Int, target: (Int, Int) -> Int) async throws -> Int {
        let key = key(rpm: rpm)
        let board = MemoryRateDemandBoard()
        let limiters = (0..<3).map { _ in RateLimiter() }
        var admitted = 0
        for second in 0..<seconds {
            let now = Self.t0.addingTimeInterval(Double(second))
            for (index, limiter) in limiters.enumerated() {
                let others = try await board.exchange(
                    limiter.demand(at: now), instance: "gw_\(index)", at: now, freshSince: now.addingTimeInterval(-5))
                limiter.setShares(instances: 3, elsewhere: others, now: now)
            }
            for call in 0..<perSecond where (try? limiters[target(second, call)].admit(key, now: now).get()) != nil { admitted += 1 }
        }
        return admitted
    }

    /// What one instance holding the whole limit admits of the same calls.
    func singleAdmits(rpm: Int, perSecond: Int, seconds: Int) -> Int {
        let key = key(rpm: rpm)
        let limiter = RateLimiter()
        return (0..<seconds).reduce(0) { sum, second in
            sum + admitted(limiter, key, calls: perSecond, at: Self.t0.addingTimeInterval(Double(second)))
        }
    }

    /// The tolerance the README states: together the instances admit no more than one instance holding
    /// the whole limit would, and at least 80 % of it (about 88 % when a sticky load balancer holds a
    /// client to one instance, as the idle instances keep their floors; nearly all of it when spread
    /// evenly; 84 % when the client moves to another instance and the shares follow its demand within
    /// the minute).
    @Test(arguments: ["sticky", "even", "moving"])
    func theClusterAdmitsWhatOneInstanceWould(spread: String) async throws {
        let target: (Int, Int) -> Int =
            switch spread {
            case "sticky": { _, _ in 0 }
            case "even": { _, call in call % 3 }
            default: { second, _ in second < 90 ? 0 : 2 }
            }
        let single = singleAdmits(rpm: 600, perSecond: 20, seconds: 600)
        let cluster = try await clusterAdmits(rpm: 600, perSecond: 20, seconds: 600, target: target)
        #expect(cluster <= single, "\(spread): \(cluster) admitted, one instance \(single)")
        #expect(Double(cluster) >= 0.8 * Double(single), "\(spread): \(cluster) admitted, one instance \(single)")
    }

    @Test func aLargerShareRefillsFasterButAddsNothingAtOnce() {
        let key = key(rpm: 60)
        let limiter = RateLimiter()
        limiter.setShares(instances: 2, elsewhere: [:], now: Self.t0)
        // No demand anywhere yet: the even split, 30.
        #expect(admitted(limiter, key, calls: 40) == 30)
        // As much demand at the other instance: still half.
        limiter.setShares(instances: 2, elsewhere: [key.id: RateDemand(requests: 40)], now: Self.t0)
        #expect(limiter.snapshot(key, now: Self.t0).requests?.limit == 30)
        // The others went quiet: this instance's share grows to 57 (60 less the other's floor of 3), but
        // the units come with the refill, not at once.
        limiter.setShares(instances: 2, elsewhere: [:], now: Self.t0)
        #expect(limiter.snapshot(key, now: Self.t0).requests?.limit == 57)
        #expect(admitted(limiter, key, calls: 40) == 0)
        #expect(admitted(limiter, key, calls: 40, at: Self.t0.addingTimeInterval(10)) == 9)
        // Shrunk to its floor, it keeps at most the floor.
        limiter.setShares(instances: 2, elsewhere: [key.id: RateDemand(requests: 1_000_000)], now: Self.t0.addingTimeInterval(60))
        #expect(admitted(limiter, key, calls: 40, at: Self.t0.addingTimeInterval(60)) == 3)
    }

    /// Cut off from the others, an instance holds every key to its floor, and takes its share again
    /// with the next exchange.
    @Test func aCutOffInstanceHoldsEveryKeyToItsFloor() {
        let key = key(rpm: 60)
        let limiter = RateLimiter()
        limiter.setShares(instances: 2, elsewhere: [:], now: Self.t0)
        #expect(admitted(limiter, key, calls: 1) == 1)
        #expect(limiter.snapshot(key, now: Self.t0).requests?.limit == 30)
        limiter.holdToFloor(now: Self.t0)
        #expect(limiter.snapshot(key, now: Self.t0).requests?.limit == 3)
        limiter.setShares(instances: 2, elsewhere: [:], now: Self.t0)
        #expect(limiter.snapshot(key, now: Self.t0).requests?.limit == 57)
    }

    @Test func demandOlderThanAMinuteFallsOut() {
        var window = DemandWindow()
        window.add(requests: 3, at: Self.t0)
        window.add(requests: 2, tokens: 40, at: Self.t0.addingTimeInterval(30))
        #expect(window.total(at: Self.t0.addingTimeInterval(40)) == RateDemand(requests: 5, tokens: 40))
        #expect(window.total(at: Self.t0.addingTimeInterval(61)) == RateDemand(requests: 2, tokens: 40))
        #expect(window.total(at: Self.t0.addingTimeInterval(95)).isZero)
    }
}

private struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
