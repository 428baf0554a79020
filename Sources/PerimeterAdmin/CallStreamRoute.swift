import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PerimeterCore
import PerimeterProxy
import ServiceLifecycle

/// `GET /calls/stream`: the calls this instance finishes, as server-sent events (`event: call`, the
/// object `GET /calls` lists), optionally of one key or environment; `event: dropped` when the reader
/// fell behind and calls were left out; a `: keepalive` comment every 15 seconds, whose write also
/// finds a reader that went away. Every stream ends when graceful shutdown begins, and a console
/// session's stream ends within `sessionCheckInterval` of the session ending (signed out, idle,
/// too old, its token revoked): an open stream never keeps a session alive or outlives it.
struct CallStreamRoute: Sendable {
    let feed: CallFeed
    let sessions: ConsoleSessions?
    var keepaliveInterval: Duration = .seconds(15)
    var sessionCheckInterval: Duration = .seconds(2)

    func register(on group: RouterGroup<GatewayContext>) {
        group.get("calls/stream") { request, context in
            let query = request.uri.queryParameters
            let subscription: CallFeed.Subscription
            do {
                subscription = try feed.subscribe(CallFeed.Filter(keyID: query.get("key_id"), env: query.get("env")))
            } catch {
                throw GatewayError.tooManyStreams(maximum: feed.maximumSubscribers)
            }
            var headers = HTTPFields()
            headers[.contentType] = "text/event-stream"
            headers[.cacheControl] = "no-store"
            let interval = keepaliveInterval
            let checkInterval = sessionCheckInterval
            let session = context.viaConsole ? ConsoleSessions.cookie(in: request).map { (sessions, $0) } : nil
            return Response(
                status: .ok, headers: headers,
                body: ResponseBody { writer in
                    defer { subscription.cancel() }
                    try await withGracefulShutdownHandler {
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            group.addTask {
                                while true {
                                    try await Task.sleep(for: interval)
                                    subscription.keepalive()
                                }
                            }
                            if let (sessions, cookie) = session, let sessions {
                                group.addTask {
                                    while sessions.find(cookie: cookie, touch: false) != nil {
                                        try await Task.sleep(for: checkInterval)
                                    }
                                    subscription.cancel()
                                }
                            }
                            // The headers and a first comment go out at once, so a reader knows it is connected.
                            try await writer.write(ByteBuffer(string: ": connected\n\n"))
                            for await event in subscription.events {
                                try await writer.write(ByteBuffer(bytes: try Self.frame(event)))
                            }
                            group.cancelAll()
                        }
                    } onGracefulShutdown: {
                        subscription.cancel()
                    }
                    try await writer.finish(nil)
                })
        }
    }

    /// One event as its lines of `text/event-stream`.
    static func frame(_ event: CallFeed.Event) throws -> [UInt8] {
        switch event {
        case .call(let record):
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return Array("event: call\ndata: ".utf8) + Array(try encoder.encode(record)) + Array("\n\n".utf8)
        case .dropped(let count):
            return Array("event: dropped\ndata: {\"dropped\":\(count)}\n\n".utf8)
        case .keepalive:
            return Array(": keepalive\n\n".utf8)
        }
    }
}
