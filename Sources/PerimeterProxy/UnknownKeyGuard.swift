import Foundation
import PerimeterCore
import Synchronization

/// Slows down an address that sends a burst of unknown keys: part of admission, beside the rate
/// limiter. The burst rule is ``BurstWatch`` (the same state machine the alert rules use), so "how
/// many unknown keys, within what window" means one thing everywhere.
package final class UnknownKeyGuard: Sendable {
    private struct State {
        var watch: BurstWatch
        var lastPrune: Date = .distantPast
    }

    private let state: Mutex<State>
    private let window: TimeInterval

    /// A burst is `count` unknown keys from one address within `window` seconds; the address is then
    /// answered slowly until it has been quiet for a window.
    package init(count: Int, window: TimeInterval) {
        self.window = window
        state = Mutex(State(watch: BurstWatch(count: count, window: window)))
    }

    /// Counts one call with an unknown key from `address`.
    package func recordUnknownKey(from address: String?, at now: Date) {
        guard let address else { return }
        state.withLock { state in
            _ = state.watch.record(address, at: now)
            // Forget quiet addresses now and then, so a scan from many addresses cannot grow memory.
            if now.timeIntervalSince(state.lastPrune) >= window {
                state.watch.prune(now: now)
                state.lastPrune = now
            }
        }
    }

    /// Whether unknown keys from `address` are answered slowly now.
    package func isSlowed(_ address: String?, at now: Date) -> Bool {
        guard let address else { return false }
        return state.withLock { $0.watch.isFlagged(address, at: now) }
    }
}
