import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

@testable import PerimeterUpstream

/// The upstream client against a real socket server whose misbehaviour is scripted by path.
@Suite struct UpstreamClientTests {
    @Test func sequentialCallsShareOneKeptAliveConnection() async throws {
        try await withServer { server, client in
            for _ in 0..<5 {
                let start = try await client.send(
                    method: .post, url: server.url("/json"), headers: [:], body: ByteBuffer(string: "{}"), headTimeout: .seconds(5),
                    eventLoop: server.loop)
                #expect(start.head.status == .ok)
                #expect(try await Self.collect(start.body) == #"{"ok":true}"#)
            }
            #expect(server.connections == 1)
            #expect(server.requests == 5)
        }
    }

    @Test func aKeptAliveConnectionTheServerDroppedIsRetriedOnANewOne() async throws {
        try await withServer { server, client in
            for _ in 0..<2 {
                let start = try await client.send(
                    method: .post, url: server.url("/drop-second"), headers: [:], body: nil, headTimeout: .seconds(5),
                    eventLoop: server.loop)
                #expect(try await Self.collect(start.body) == #"{"ok":true}"#)
            }
            // The second call went out on the pooled connection, found it dropped, and went again.
            #expect(server.connections == 2)
            #expect(server.requests == 3)
        }
    }

    @Test func aConnectionDroppedLateIsNotRetriedSoACallIsNeverSentTwice() async throws {
        try await withServer { server, client in
            let first = try await client.send(
                method: .post, url: server.url("/drop-second-late"), headers: [:], body: nil, headTimeout: .seconds(5),
                eventLoop: server.loop)
            _ = try await Self.collect(first.body)
            do throws(UpstreamError) {
                _ = try await client.send(
                    method: .post, url: server.url("/drop-second-late"), headers: [:], body: nil, headTimeout: .seconds(5),
                    eventLoop: server.loop)
                Issue.record("expected the dropped call to fail")
            } catch {
                guard case .unreachable = error else { Issue.record("expected unreachable, got \(error)"); return }
            }
            // The server read the second call and only then closed: it may have acted on it.
            #expect(server.requests == 2)
            #expect(server.connections == 1)
        }
    }

    @Test func anAnswerWithConnectionCloseIsNotReused() async throws {
        try await withServer { server, client in
            for _ in 0..<2 {
                let start = try await client.send(
                    method: .post, url: server.url("/close"), headers: [:], body: nil, headTimeout: .seconds(5), eventLoop: server.loop)
                #expect(try await Self.collect(start.body) == #"{"ok":true}"#)
            }
            #expect(server.connections == 2)
            #expect(server.requests == 2)
        }
    }

    @Test func aSlowConsumerIsNotMistakenForASilentProvider() async throws {
        try await withServer(readTimeout: .milliseconds(300)) { server, client in
            let start = try await client.send(method: .get, url: server.url("/burst"), headers: [:], body: nil, headTimeout: .seconds(5))
            let iterator = start.body.makeAsyncIterator()
            _ = try await iterator.next()
            // Reads pause while this consumer is behind; the provider keeps sending, slowly.
            try await Task.sleep(for: .milliseconds(700))
            var events = 1
            while let chunk = try await iterator.next() {
                events += String(buffer: chunk).components(separatedBy: "\n\n").count - 1
            }
            #expect(events == ScriptServer.burstEvents + ScriptServer.trickleEvents)
        }
    }

    @Test func theCapCountsCallsInFlightNotIdleConnections() async throws {
        try await withServer(maximumConnections: 1) { server, client in
            let loops = Array(MultiThreadedEventLoopGroup.singleton.makeIterator())
            for loop in loops {
                let start = try await client.send(
                    method: .post, url: server.url("/json"), headers: [:], body: nil, headTimeout: .seconds(5), eventLoop: loop)
                #expect(try await Self.collect(start.body) == #"{"ok":true}"#)
            }
            #expect(server.requests == loops.count)
        }
    }

    @Test func noHeadWithinTheDeadlineIsATimeout() async throws {
        try await withServer { server, client in
            let started = ContinuousClock.now
            do throws(UpstreamError) {
                _ = try await client.send(method: .get, url: server.url("/never"), headers: [:], body: nil, headTimeout: .milliseconds(200))
                Issue.record("expected a timeout")
            } catch {
                guard case .timeout = error else { Issue.record("expected a timeout, got \(error)"); return }
            }
            // The server never answers: the timeout error is the proof; the bound only rules out a wait for
            // something else, generous enough for a loaded machine.
            #expect(ContinuousClock.now - started < .seconds(30))
        }
    }

    @Test func aStreamThatStallsFailsAfterTheReadTimeout() async throws {
        try await withServer(readTimeout: .milliseconds(300)) { server, client in
            let start = try await client.send(method: .get, url: server.url("/stall"), headers: [:], body: nil, headTimeout: .seconds(5))
            let iterator = start.body.makeAsyncIterator()
            let first = try await iterator.next()
            #expect(first.map { String(buffer: $0) } == "data: first\n\n")
            await #expect(throws: (any Error).self) { _ = try await iterator.next() }
        }
    }

    @Test func timeoutsCountFromTheCallNotFromTheConnectionsLastUse() async throws {
        try await withServer(readTimeout: .milliseconds(300)) { server, client in
            let first = try await client.send(
                method: .post, url: server.url("/json"), headers: [:], body: nil, headTimeout: .milliseconds(300), eventLoop: server.loop)
            _ = try await Self.collect(first.body)
            try await Task.sleep(for: .milliseconds(500))
            // Reuses the connection idle for longer than the timeouts; the answer takes 150 ms.
            let second = try await client.send(
                method: .post, url: server.url("/slow"), headers: [:], body: nil, headTimeout: .milliseconds(300), eventLoop: server.loop)
            #expect(try await Self.collect(second.body) == #"{"ok":true}"#)
            #expect(server.connections == 1)
            // A stream whose events come more often than the read timeout runs for as long as it lasts.
            let stream = try await client.send(
                method: .get, url: server.url("/endless"), headers: [:], body: nil, headTimeout: .milliseconds(300), eventLoop: server.loop)
            // It ran past three read timeouts and was ended by this loop, not by a timeout (which would
            // throw); how many events arrived meanwhile depends on the machine's load.
            var events = 0
            let until = ContinuousClock.now + .seconds(1)
            for try await _ in stream.body {
                events += 1
                if ContinuousClock.now > until { break }
            }
            #expect(ContinuousClock.now > until && events > 3)
        }
    }

    @Test func aBodyLeftUnreadClosesItsConnection() async throws {
        try await withServer { server, client in
            do {
                let start = try await client.send(
                    method: .get, url: server.url("/endless"), headers: [:], body: nil, headTimeout: .seconds(5), eventLoop: server.loop)
                let iterator = start.body.makeAsyncIterator()
                _ = try await iterator.next()
            }
            // The rest of that body is never read into a connection someone else would reuse.
            let deadline = ContinuousClock.now + .seconds(5)
            while server.closed < 1, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(server.closed == 1)
            let start = try await client.send(
                method: .post, url: server.url("/json"), headers: [:], body: nil, headTimeout: .seconds(5), eventLoop: server.loop)
            #expect(try await Self.collect(start.body) == #"{"ok":true}"#)
            #expect(server.connections == 2)
        }
    }

    @Test func aCallCancelledWhileAwaitingTheHeadEndsAtOnceAndClosesItsConnection() async throws {
        try await withServer(maximumConnections: 1) { server, client in
            let started = ContinuousClock.now
            let call = Task { () -> UpstreamError? in
                do throws(UpstreamError) {
                    _ = try await client.send(
                        method: .get, url: server.url("/never"), headers: [:], body: nil, headTimeout: .seconds(30), eventLoop: server.loop)
                    return nil
                } catch {
                    return error
                }
            }
            let arrived = ContinuousClock.now + .seconds(5)
            while server.requests < 1, ContinuousClock.now < arrived { try await Task.sleep(for: .milliseconds(10)) }
            #expect(server.requests == 1)
            call.cancel()
            let error = await call.value
            guard case .unreachable = error else { Issue.record("expected unreachable, got \(String(describing: error))"); return }
            // Well under the head's 30 s deadline: the wait ended with the caller's.
            #expect(ContinuousClock.now - started < .seconds(20))
            let closed = ContinuousClock.now + .seconds(5)
            while server.closed < 1, ContinuousClock.now < closed { try await Task.sleep(for: .milliseconds(10)) }
            #expect(server.closed == 1)
            // The slot came back: the cap of one admits the next call, on a new connection.
            let start = try await client.send(
                method: .post, url: server.url("/json"), headers: [:], body: nil, headTimeout: .seconds(5), eventLoop: server.loop)
            #expect(try await Self.collect(start.body) == #"{"ok":true}"#)
            #expect(server.connections == 2)
        }
    }

    @Test func aLongStreamArrivesWholeAndInOrder() async throws {
        try await withServer { server, client in
            let start = try await client.send(method: .get, url: server.url("/stream"), headers: [:], body: nil, headTimeout: .seconds(5))
            let text = try await Self.collect(start.body)
            #expect(text == (0..<ScriptServer.streamChunks).map { "data: \($0)\n\n" }.joined())
        }
    }

    @Test func theConnectionLimitRefusesRatherThanQueues() async throws {
        // A read timeout far beyond the test: on a loaded machine the stalled stream must still hold
        // its connection when the second call asks for one.
        try await withServer(readTimeout: .seconds(120), maximumConnections: 1) { server, client in
            let held = try await client.send(method: .get, url: server.url("/stall"), headers: [:], body: nil, headTimeout: .seconds(5))
            do throws(UpstreamError) {
                _ = try await client.send(method: .post, url: server.url("/json"), headers: [:], body: nil, headTimeout: .seconds(5))
                Issue.record("expected the second connection to be refused")
            } catch {
                guard case .unreachable(let reason) = error else { Issue.record("expected unreachable, got \(error)"); return }
                #expect(reason.contains("upstream_max_connections"))
            }
            #expect(server.connections == 1)
            _ = held
        }
    }

    @Test func aClosedPortIsUnreachable() async throws {
        let client = UpstreamClient(configuration: .init(connectTimeout: .seconds(2), readTimeout: .seconds(2)))
        defer { Task { await client.shutdown() } }
        do throws(UpstreamError) {
            _ = try await client.send(method: .get, url: "http://127.0.0.1:1/v1/models", headers: [:], body: nil, headTimeout: .seconds(2))
            Issue.record("expected the call to fail")
        } catch {
            guard case .unreachable = error else { Issue.record("expected unreachable, got \(error)"); return }
        }
    }

    @Test func originsAndTargetsAreSplitFromURLs() {
        let cases: [(String, UpstreamOrigin?, String?)] = [
            ("https://api.openai.com/v1/chat/completions", .init(tls: true, host: "api.openai.com", port: 443), "/v1/chat/completions"),
            ("http://127.0.0.1:8080/v1/models?limit=2", .init(tls: false, host: "127.0.0.1", port: 8080), "/v1/models?limit=2"),
            ("http://[::1]:9000/x", .init(tls: false, host: "::1", port: 9000), "/x"),
            ("https://example.com", .init(tls: true, host: "example.com", port: 443), "/"),
            ("https://example.com?q=1", .init(tls: true, host: "example.com", port: 443), "/?q=1"),
            ("ftp://example.com/", nil, nil),
            ("http://user:pw@example.com/", nil, nil),
            ("http://example.com:0/", nil, nil),
            ("http://example.com:99999/", nil, nil),
            ("http:///path", nil, nil),
        ]
        for (url, origin, target) in cases {
            let parsed = UpstreamOrigin.parse(url)
            #expect(parsed?.origin == origin, "\(url)")
            #expect(parsed?.target == target, "\(url)")
        }
        #expect(UpstreamOrigin(tls: true, host: "api.openai.com", port: 443).hostHeader == "api.openai.com")
        #expect(UpstreamOrigin(tls: false, host: "::1", port: 9000).hostHeader == "[::1]:9000")
    }

    // MARK: Helpers

    static func collect(_ body: UpstreamResponseStart.Body) async throws -> String {
        var text = ""
        for try await chunk in body { text += String(buffer: chunk) }
        return text
    }

    private func withServer(
        readTimeout: Duration = .seconds(5), maximumConnections: Int = 100,
        _ body: (ScriptServer, UpstreamClient) async throws -> Void
    ) async throws {
        let server = try await ScriptServer.start()
        var configuration = UpstreamClient.Configuration(connectTimeout: .seconds(2), readTimeout: readTimeout)
        configuration.maximumConnectionsPerOrigin = maximumConnections
        let client = UpstreamClient(configuration: configuration)
        do {
            try await body(server, client)
        } catch {
            await client.shutdown()
            try await server.stop()
            throw error
        }
        await client.shutdown()
        try await server.stop()
    }
}
