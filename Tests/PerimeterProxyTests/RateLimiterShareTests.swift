import Foundation
import PerimeterCore
import Testing

@testable import PerimeterProxy

/// Instances sharing a database each hold an equal share of a key's per-minute limits.
@Suite struct RateLimiterShareTests {
    static let t0 = Date(timeIntervalSince1970: 1_790_000_000)

    func key(rpm: Int) -> VirtualKey {
        var key = VirtualKey.issue(name: "svc", env: "dev", owner: nil, now: Self.t0).0
        key.policy.requestsPerMinute = rpm
        return key
    }

    func admitted(_ limiter: RateLimiter, _ key: VirtualKey, calls: Int) -> Int {
        (0..<calls).filter { _ in (try? limiter.admit(key, now: Self.t0).get()) != nil }.count
    }

    @Test func threeInstancesTogetherAdmitAtMostTheLimit() {
        let key = key(rpm: 30)
        let limiters = (0..<3).map { _ in RateLimiter() }
        for limiter in limiters { limiter.setInstances(3) }
        // An even spread, as a load balancer sends it: the whole limit, no more.
        #expect(limiters.map { admitted($0, key, calls: 20) }.reduce(0, +) == 30)
    }

    @Test func aShareRoundsDownAndNeverToNothing() {
        #expect(RateLimiter.share(of: 30, instances: 4) == 7)
        #expect(RateLimiter.share(of: 2, instances: 3) == 1)
        #expect(RateLimiter.share(of: 30, instances: 0) == 30)
    }

    @Test func aChangeInInstancesResizesTheBuckets() {
        let key = key(rpm: 30)
        let limiter = RateLimiter()
        #expect(admitted(limiter, key, calls: 5) == 5)
        limiter.setInstances(2)
        #expect(limiter.snapshot(key, now: Self.t0).requests?.limit == 15)
    }
}
