import PerimeterCore
import Synchronization

/// Finished calls as the call-log writer queues them, for live tails (`GET /admin/v1/calls/stream`).
///
/// Publishing never waits: each subscriber has a bounded buffer, and a call that does not fit is
/// counted, not queued; the subscriber is told how many it missed (``Event/dropped(_:)``) as soon as
/// its buffer has room again. At most `maximumSubscribers` at once. ``close()`` ends every stream (on
/// graceful shutdown), so an open console never holds the server's drain.
package final class CallFeed: Sendable {
    package enum Event: Sendable, Equatable {
        case call(CallRecord)
        /// This many calls were left out since the last event, the subscriber being behind.
        case dropped(Int)
        /// Nothing happened; the stream's writer keeps the connection alive.
        case keepalive
    }

    /// Which calls a subscriber sees.
    package struct Filter: Sendable, Hashable {
        package var keyID: String?
        package var env: String?

        package init(keyID: String? = nil, env: String? = nil) {
            self.keyID = keyID
            self.env = env
        }

        package func matches(_ record: CallRecord) -> Bool {
            (keyID == nil || record.keyID == keyID) && (env == nil || record.env == env)
        }
    }

    private struct Subscriber {
        var filter: Filter
        var continuation: AsyncStream<Event>.Continuation
        var dropped = 0
    }

    private struct State {
        var subscribers: [Int: Subscriber] = [:]
        var nextID = 0
        var isClosed = false
    }

    package let maximumSubscribers: Int
    package let bufferSize: Int
    private let state = Mutex(State())
    /// The subscribers' count, kept beside the lock: with no reader (nearly always), a published call
    /// costs one atomic load on the request path instead of taking the feed's lock.
    private let readers = Atomic<Int>(0)

    package init(maximumSubscribers: Int = 32, bufferSize: Int = 256) {
        self.maximumSubscribers = maximumSubscribers
        self.bufferSize = bufferSize
    }

    /// A subscription's events, and its end.
    package struct Subscription: Sendable {
        package let events: AsyncStream<Event>
        let id: Int
        let feed: CallFeed

        /// Ends the stream and frees its place.
        package func cancel() { feed.remove(id) }

        /// Queues a keepalive (dropped, uncounted, when the buffer is full).
        package func keepalive() { feed.keepalive(id) }
    }

    package enum SubscribeError: Error {
        case full
        case closed
    }

    package func subscribe(_ filter: Filter) throws(SubscribeError) -> Subscription {
        let (events, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .bufferingOldest(bufferSize))
        let id = try state.withLock { state throws(SubscribeError) -> Int in
            guard !state.isClosed else { throw .closed }
            guard state.subscribers.count < maximumSubscribers else { throw .full }
            defer { state.nextID += 1 }
            state.subscribers[state.nextID] = Subscriber(filter: filter, continuation: continuation)
            readers.store(state.subscribers.count, ordering: .relaxed)
            return state.nextID
        }
        return Subscription(events: events, id: id, feed: self)
    }

    package var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// Hands `record` to every subscriber whose filter it matches; never waits.
    package func publish(_ record: CallRecord) {
        // A reader that subscribes while this call is being published may miss it: it came after.
        guard readers.load(ordering: .relaxed) > 0 else { return }
        state.withLock { state in
            for (id, subscriber) in state.subscribers where subscriber.filter.matches(record) {
                var subscriber = subscriber
                if subscriber.dropped > 0, case .enqueued = subscriber.continuation.yield(.dropped(subscriber.dropped)) {
                    subscriber.dropped = 0
                }
                if subscriber.dropped > 0 {
                    subscriber.dropped += 1
                } else if case .dropped = subscriber.continuation.yield(.call(record)) {
                    subscriber.dropped = 1
                }
                state.subscribers[id] = subscriber
            }
        }
    }

    /// Ends every stream, and refuses new ones.
    package func close() {
        let continuations = state.withLock { state in
            state.isClosed = true
            readers.store(0, ordering: .relaxed)
            defer { state.subscribers = [:] }
            return state.subscribers.values.map(\.continuation)
        }
        // Outside the lock: finishing may run the stream's termination handler.
        for continuation in continuations { continuation.finish() }
    }

    private func remove(_ id: Int) {
        state.withLock { state in
            defer { readers.store(state.subscribers.count, ordering: .relaxed) }
            return state.subscribers.removeValue(forKey: id)
        }?.continuation.finish()
    }

    private func keepalive(_ id: Int) {
        _ = state.withLock { $0.subscribers[id]?.continuation }?.yield(.keepalive)
    }
}
