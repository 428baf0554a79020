import Foundation
import PerimeterCore
import Testing

@testable import PerimeterProxy

@Suite struct CallFeedTests {
    static func call(_ i: Int, key: String = "key_a", env: String = "prod", outcome: Outcome = .ok) -> CallRecord {
        CallRecord(
            id: "req_\(i)", time: Date(timeIntervalSince1970: 1_790_000_000 + Double(i)), keyID: key, env: env, operation: .chat,
            status: 200, outcome: outcome)
    }

    /// Takes the events queued so far without waiting for more.
    static func drain(_ subscription: CallFeed.Subscription) async -> [CallFeed.Event] {
        subscription.cancel()
        var events: [CallFeed.Event] = []
        for await event in subscription.events { events.append(event) }
        return events
    }

    @Test func subscribersSeeTheCallsTheirFilterMatches() async throws {
        let feed = CallFeed()
        let all = try feed.subscribe(.init())
        let keyB = try feed.subscribe(.init(keyID: "key_b"))
        let dev = try feed.subscribe(.init(env: "dev"))
        feed.publish(Self.call(1))
        feed.publish(Self.call(2, key: "key_b", env: "dev"))
        feed.publish(Self.call(3, env: "dev"))
        #expect(
            await Self.drain(all) == [.call(Self.call(1)), .call(Self.call(2, key: "key_b", env: "dev")), .call(Self.call(3, env: "dev"))])
        #expect(await Self.drain(keyB) == [.call(Self.call(2, key: "key_b", env: "dev"))])
        #expect(await Self.drain(dev) == [.call(Self.call(2, key: "key_b", env: "dev")), .call(Self.call(3, env: "dev"))])
        #expect(feed.subscriberCount == 0)
    }

    /// A reader that does not read loses calls past its buffer, never blocks the publisher, and is
    /// told how many it lost once its buffer has room.
    @Test func aSlowReaderIsToldWhatItMissed() async throws {
        let feed = CallFeed(bufferSize: 3)
        let slow = try feed.subscribe(.init())
        for i in 0..<10 { feed.publish(Self.call(i)) }
        var iterator = slow.events.makeAsyncIterator()
        #expect(await iterator.next() == .call(Self.call(0)))
        // Room for one: the count of the seven left out comes before the next call, which is then left out too.
        feed.publish(Self.call(10))
        #expect(await iterator.next() == .call(Self.call(1)))
        #expect(await iterator.next() == .call(Self.call(2)))
        #expect(await iterator.next() == .dropped(7))
        feed.publish(Self.call(11))
        #expect(await iterator.next() == .dropped(1))
        #expect(await iterator.next() == .call(Self.call(11)))
        slow.cancel()
        #expect(await iterator.next() == nil)
    }

    @Test func subscribersAreCappedAndCloseEndsEveryStream() async throws {
        let feed = CallFeed(maximumSubscribers: 2)
        let first = try feed.subscribe(.init())
        let second = try feed.subscribe(.init())
        #expect(throws: CallFeed.SubscribeError.full) { try feed.subscribe(.init()) }
        first.cancel()
        let third = try feed.subscribe(.init())
        feed.close()
        #expect(await Self.drain(second).isEmpty)
        #expect(await Self.drain(third).isEmpty)
        #expect(throws: CallFeed.SubscribeError.closed) { try feed.subscribe(.init()) }
        feed.publish(Self.call(1))
        #expect(feed.subscriberCount == 0)
    }

    @Test func theWriterPublishesFinalRecordsOnly() async throws {
        let feed = CallFeed()
        let log = FlakyCallLog(failures: 0)
        let writer = CallLogWriter(
            log: log, keys: log.store, cache: KeyCache(keys: []), interval: .seconds(60), feed: feed, logger: .init(label: "test"))
        let subscription = try feed.subscribe(.init())
        writer.record(Self.call(1, outcome: .inFlight))
        writer.record(Self.call(2, outcome: .denied))
        let durable = Task { await writer.recordDurably(Self.call(1)) }
        try await Task.sleep(for: .milliseconds(50))
        await writer.flush()
        await durable.value
        #expect(await Self.drain(subscription) == [.call(Self.call(2, outcome: .denied)), .call(Self.call(1))])
    }
}
