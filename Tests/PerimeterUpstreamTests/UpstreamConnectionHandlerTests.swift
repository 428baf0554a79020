import NIOCore
import NIOEmbedded
import Testing

@testable import PerimeterUpstream

/// The connection handler in its pipeline on an `EmbeddedChannel`, with the event loop's manual clock:
/// no sockets, no sleeps.
@Suite struct UpstreamConnectionHandlerTests {
    static let json = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"ok\":true}"
    static let streamHead = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"

    static func chunk(_ text: String) -> String {
        String(text.utf8.count, radix: 16) + "\r\n" + text + "\r\n"
    }

    /// Up to `parts` parts, then the body's end or its error; only for parts already read, as nothing
    /// else runs the loop meanwhile. The body has one iterator, and dropping it ends the body.
    static func drain(_ iterator: UpstreamResponseStart.Body.AsyncIterator, parts: Int) async -> (text: String, error: (any Error)?) {
        var text = ""
        do {
            for _ in 0..<parts {
                guard let part = try await iterator.next() else { return (text, nil) }
                text += String(buffer: part)
            }
            return (text, nil)
        } catch {
            return (text, error)
        }
    }

    @Test func theRequestLeavesWholeAndAKeptAliveAnswerReturnsTheConnection() async throws {
        let connection = try EmbeddedConnection()
        let first = connection.execute()
        let request = try connection.written()
        #expect(request.hasPrefix("POST /v1/chat/completions HTTP/1.1\r\n"))
        #expect(request.hasSuffix("\r\n\r\n{}"))
        try connection.receive(Self.json)
        let start = try #require(first.start)
        #expect(start.head.status == .ok)
        #expect(connection.idles == 1)
        #expect(connection.bodyEndCalls == 1)
        #expect(connection.handler.isIdle)
        #expect(await Self.drain(start.body.makeAsyncIterator(), parts: 2).text == #"{"ok":true}"#)
        // The same connection carries the next call.
        let second = connection.execute(reused: true)
        try connection.receive(Self.json)
        #expect(second.start != nil)
        #expect(connection.idles == 2)
        #expect(connection.channel.isActive)
    }

    @Test func anAnswerWithConnectionCloseClosesTheConnection() throws {
        let connection = try EmbeddedConnection()
        let exchange = connection.execute()
        try connection.receive("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
        #expect(exchange.start != nil)
        #expect(connection.idles == 0)
        #expect(connection.bodyEndCalls == 1)
        #expect(!connection.channel.isActive)
    }

    @Test func noHeadByTheDeadlineIsATimeoutAndClosesTheConnection() throws {
        let connection = try EmbeddedConnection()
        let exchange = connection.execute(headTimeout: .seconds(30))
        connection.loop.advanceTime(by: .seconds(29))
        #expect(exchange.outcome == nil)
        #expect(connection.channel.isActive)
        connection.loop.advanceTime(by: .seconds(1))
        #expect(exchange.error == .timeout)
        #expect(!connection.channel.isActive)
        #expect(connection.bodyEndCalls == 0)
    }

    @Test func theHeadDeadlineCountsFromTheCallNotFromTheConnectionsLastUse() throws {
        let connection = try EmbeddedConnection()
        _ = connection.execute(headTimeout: .seconds(1))
        try connection.receive(Self.json)
        connection.loop.advanceTime(by: .seconds(3600))
        let second = connection.execute(headTimeout: .seconds(1), reused: true)
        connection.loop.advanceTime(by: .milliseconds(900))
        try connection.receive(Self.json)
        #expect(second.start != nil)
        #expect(connection.channel.isActive)
    }

    @Test func aStreamThatStallsFailsAfterTheReadTimeout() async throws {
        let connection = try EmbeddedConnection(readTimeout: .seconds(10))
        let exchange = connection.execute()
        try connection.receive(Self.streamHead + Self.chunk("data: first\n\n"))
        let start = try #require(exchange.start)
        connection.loop.advanceTime(by: .seconds(9))
        try connection.receive(Self.chunk("data: second\n\n"))
        // The read timeout counts from the last read, not from the head.
        connection.loop.advanceTime(by: .seconds(9))
        #expect(connection.channel.isActive)
        connection.loop.advanceTime(by: .seconds(1))
        #expect(!connection.channel.isActive)
        #expect(connection.bodyEndCalls == 1)
        let (text, error) = await Self.drain(start.body.makeAsyncIterator(), parts: 3)
        #expect(text == "data: first\n\ndata: second\n\n")
        #expect(error as? UpstreamConnectionError == .timeout)
    }

    @Test func aSlowConsumerIsNotMistakenForASilentProvider() async throws {
        let connection = try EmbeddedConnection(readTimeout: .seconds(10))
        let exchange = connection.execute()
        let burst = (0..<10).map { Self.chunk("data: \($0)\n\n") }.joined()
        try connection.receive(Self.streamHead + burst)
        let start = try #require(exchange.start)
        // The consumer is behind: a read is held, and the provider's silence is not counted.
        let readsBefore = connection.readsPassed
        connection.channel.read()
        #expect(connection.readsPassed == readsBefore)
        connection.loop.advanceTime(by: .seconds(65))
        #expect(connection.channel.isActive)
        // The consumer catches up: the held read goes out and the read timeout starts again.
        let iterator = start.body.makeAsyncIterator()
        #expect(await Self.drain(iterator, parts: 9).text == (0..<9).map { "data: \($0)\n\n" }.joined())
        connection.loop.run()
        #expect(connection.readsPassed == readsBefore + 1)
        connection.loop.advanceTime(by: .seconds(9))
        #expect(connection.channel.isActive)
        #expect(connection.bodyEndCalls == 0)
        connection.loop.advanceTime(by: .seconds(1))
        #expect(!connection.channel.isActive)
        #expect(connection.bodyEndCalls == 1)
        let (rest, error) = await Self.drain(iterator, parts: 2)
        #expect(rest == "data: 9\n\n")
        #expect(error as? UpstreamConnectionError == .timeout)
    }

    @Test func aBodyCutShortIsAnErrorNotAnEnd() async throws {
        let connection = try EmbeddedConnection()
        let exchange = connection.execute()
        try connection.receive("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello")
        let start = try #require(exchange.start)
        connection.channel.close(promise: nil)
        #expect(connection.bodyEndCalls == 1)
        #expect(connection.idles == 0)
        let (text, error) = await Self.drain(start.body.makeAsyncIterator(), parts: 3)
        #expect(text == "hello")
        #expect(error != nil)
    }

    @Test func switchingProtocolsFailsTheCall() throws {
        let connection = try EmbeddedConnection()
        let exchange = connection.execute()
        try connection.receive("HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n")
        #expect(exchange.error == .closed("unexpected 101 Switching Protocols"))
        #expect(!connection.channel.isActive)
    }

    @Test func anInterimAnswerIsFollowedByTheRealOne() throws {
        let connection = try EmbeddedConnection()
        let exchange = connection.execute()
        try connection.receive("HTTP/1.1 100 Continue\r\n\r\n")
        #expect(exchange.outcome == nil)
        try connection.receive(Self.json)
        #expect(exchange.start?.head.status == .ok)
    }

    @Test func aReusedConnectionClosedAtOnceIsStale() throws {
        let connection = try EmbeddedConnection()
        _ = connection.execute()
        try connection.receive(Self.json)
        let second = connection.execute(reused: true)
        connection.loop.advanceTime(by: .milliseconds(100))
        connection.channel.close(promise: nil)
        #expect(second.error == .stale)
    }

    @Test func aReusedConnectionClosedAfterTheStaleWindowIsLost() throws {
        let connection = try EmbeddedConnection()
        _ = connection.execute()
        try connection.receive(Self.json)
        let second = connection.execute(reused: true)
        connection.loop.advanceTime(by: UpstreamConnectionStateMachine.staleWindow)
        connection.channel.close(promise: nil)
        guard case .lost = second.error else {
            Issue.record("expected lost, got \(String(describing: second.outcome))")
            return
        }
    }

    @Test func cancellingWhileAwaitingTheHeadFailsAndClosesAtOnce() throws {
        let connection = try EmbeddedConnection()
        let exchange = connection.execute()
        exchange.request.cancellation.cancel()
        #expect(exchange.outcome == nil)
        connection.loop.run()
        #expect(exchange.error == .cancelled)
        #expect(!connection.channel.isActive)
        #expect(connection.bodyEndCalls == 0)
    }

    @Test func aCancellationAfterTheHeadLeavesTheBodyToItsConsumer() throws {
        let connection = try EmbeddedConnection()
        let exchange = connection.execute()
        try connection.receive(Self.streamHead + Self.chunk("data: 1\n\n"))
        exchange.request.cancellation.cancel()
        connection.loop.run()
        #expect(exchange.start != nil)
        #expect(connection.channel.isActive)
    }

    @Test func aConsumerThatStopsEarlyClosesTheConnection() throws {
        let connection = try EmbeddedConnection()
        var exchange: EmbeddedConnection.Exchange? = connection.execute()
        try connection.receive(Self.streamHead + Self.chunk("data: 1\n\n"))
        #expect(exchange?.start != nil)
        // Dropping the body's sequence terminates it, as a client that left does.
        exchange = nil
        connection.loop.run()
        #expect(!connection.channel.isActive)
        #expect(connection.bodyEndCalls == 1)
        #expect(connection.idles == 0)
    }
}
