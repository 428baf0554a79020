import Foundation
import Testing

@testable import PerimeterCore

@Suite struct AlertRuleTests {
    let t0 = Date(timeIntervalSince1970: 1_790_000_000)

    @Test func thresholdsFireOncePerPeriod() {
        var watch = ThresholdWatch()
        let thresholds = [0.5, 0.8, 1.0]
        #expect(watch.crossed(scope: "key:a", periodStart: t0, fraction: 0.3, thresholds: thresholds) == [])
        #expect(watch.crossed(scope: "key:a", periodStart: t0, fraction: 0.55, thresholds: thresholds) == [0.5])
        #expect(watch.crossed(scope: "key:a", periodStart: t0, fraction: 0.6, thresholds: thresholds) == [])
        // A jump past two thresholds reports both, once.
        #expect(watch.crossed(scope: "key:a", periodStart: t0, fraction: 1.2, thresholds: thresholds) == [0.8, 1.0])
        #expect(watch.crossed(scope: "key:a", periodStart: t0, fraction: 1.3, thresholds: thresholds) == [])
        // Another scope, and the next period, start over.
        #expect(watch.crossed(scope: "env:prod", periodStart: t0, fraction: 0.9, thresholds: thresholds) == [0.5, 0.8])
        let next = t0.addingTimeInterval(30 * 86400)
        #expect(watch.crossed(scope: "key:a", periodStart: next, fraction: 0.5, thresholds: thresholds) == [0.5])
        // Primed from history: no alert for what was already spent.
        var restarted = ThresholdWatch()
        restarted.prime(scope: "key:a", periodStart: t0, fraction: 0.85, thresholds: thresholds)
        #expect(restarted.crossed(scope: "key:a", periodStart: t0, fraction: 0.9, thresholds: thresholds) == [])
        #expect(restarted.crossed(scope: "key:a", periodStart: t0, fraction: 1.0, thresholds: thresholds) == [1.0])
    }

    @Test func aSpikeAboveTheBaselineAndTheFloorAlertsWhenItsWindowCloses() {
        var watch = SpikeWatch(rule: .init(window: 10, factor: 3, minimumRequests: 10, minimumCost: Money(usd: 100)))
        let start = Date(timeIntervalSince1970: 1_790_000_000)  // a multiple of 10
        var spikes: [SpikeWatch.Spike] = []
        // Four steady windows of 4 calls.
        for window in 0..<4 {
            for call in 0..<4 {
                spikes += watch.record(keyID: "k", cost: Money(usd: 0.01), at: start.addingTimeInterval(Double(window * 10 + call)))
            }
        }
        #expect(spikes.isEmpty)
        // Then 20 calls in one window: nothing until the window closes.
        for call in 0..<20 {
            spikes += watch.record(keyID: "k", cost: Money(usd: 0.01), at: start.addingTimeInterval(40 + Double(call) / 4))
        }
        #expect(spikes.isEmpty)
        #expect(watch.tick(now: start.addingTimeInterval(49)).isEmpty)
        let closed = watch.tick(now: start.addingTimeInterval(50))
        #expect(closed.count == 1)
        #expect(closed.first?.requests == 20)
        #expect((closed.first?.baselineRequests ?? 0) > 3.9 && (closed.first?.baselineRequests ?? 0) < 4.1)
        #expect(watch.tick(now: start.addingTimeInterval(51)).isEmpty)
    }

    @Test func aQuietKeyDoesNotAlertOnItsSecondCall() {
        var watch = SpikeWatch(rule: .init(window: 10, factor: 3, minimumRequests: 20, minimumCost: Money(usd: 1)))
        var spikes = watch.record(keyID: "k", cost: .zero, at: t0)
        spikes += watch.tick(now: t0.addingTimeInterval(100))
        for call in 0..<5 { spikes += watch.record(keyID: "k", cost: .zero, at: t0.addingTimeInterval(200 + Double(call))) }
        spikes += watch.tick(now: t0.addingTimeInterval(300))
        #expect(spikes.isEmpty)
    }

    @Test func newNetworksAlertOnlyAfterLearning() {
        var watch = SourceWatch(learning: 60)
        #expect(watch.record(keyID: "k", address: "10.1.1.1", at: t0) == nil)  // home
        #expect(watch.record(keyID: "k", address: "10.2.2.2", at: t0.addingTimeInterval(30)) == nil)  // still learning
        #expect(watch.record(keyID: "k", address: "10.1.1.200", at: t0.addingTimeInterval(100)) == nil)  // same /24
        #expect(watch.record(keyID: "k", address: "10.9.9.9", at: t0.addingTimeInterval(100)) == "10.9.9.0/24")
        #expect(watch.record(keyID: "k", address: "10.9.9.10", at: t0.addingTimeInterval(101)) == nil)  // once
        #expect(watch.record(keyID: "k", address: "2001:db8:1:2::5", at: t0.addingTimeInterval(102)) == "2001:db8:1:2::/64")
        #expect(watch.record(keyID: "k", address: "not an address", at: t0.addingTimeInterval(103)) == nil)
    }

    @Test func burstsFireOnceWhileTheyLast() {
        var watch = BurstWatch(count: 3, window: 10)
        #expect(watch.record("1.2.3.4", at: t0) == nil)
        #expect(watch.record("1.2.3.4", at: t0.addingTimeInterval(1)) == nil)
        #expect(watch.record("1.2.3.4", at: t0.addingTimeInterval(2)) == 3)
        #expect(watch.isFlagged("1.2.3.4", at: t0.addingTimeInterval(3)))
        #expect(watch.record("1.2.3.4", at: t0.addingTimeInterval(3)) == nil)
        // Events spread wider than the window never make a burst.
        #expect(watch.record("5.6.7.8", at: t0) == nil)
        #expect(watch.record("5.6.7.8", at: t0.addingTimeInterval(11)) == nil)
        #expect(watch.record("5.6.7.8", at: t0.addingTimeInterval(22)) == nil)
        watch.prune(now: t0.addingTimeInterval(100))
        #expect(!watch.isFlagged("1.2.3.4", at: t0.addingTimeInterval(100)))
    }
}
