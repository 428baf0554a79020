import PerimeterCore
import Synchronization

/// Set once when a part of the gateway has finished its last work; others wait for it, bounded.
package final class Finished: Sendable {
    private let state = Mutex<(isSet: Bool, waiters: [AsyncStream<Void>.Continuation])>((false, []))

    package init() {}

    package func set() {
        let waiters = state.withLock { state in
            state.isSet = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.finish() }
    }

    /// True once set; false when `limit` passed first.
    package func wait(within limit: Duration) async -> Bool {
        let (stream, continuation) = AsyncStream<Void>.makeStream()
        let isSet = state.withLock { state in
            if !state.isSet { state.waiters.append(continuation) }
            return state.isSet
        }
        if isSet { return true }
        return await finishes(within: limit) {
            for await _ in stream {}
        }
    }
}
