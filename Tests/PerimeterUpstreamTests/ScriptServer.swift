import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A small HTTP/1.1 server: `/json` answers at once; `/drop-second` answers the first request on a
/// connection and closes the connection at the second without a word; `/never` never answers;
/// `/stall` sends one event and then nothing; `/stream` sends many small events; `/endless` sends
/// an event every millisecond until the connection closes.
final class ScriptServer: Sendable {
    static let streamChunks = 200
    static let burstEvents = 50
    static let trickleEvents = 10
    private let channel: any Channel
    private let box: CountersBox

    var connections: Int { box.counters.withLock { $0.connections } }
    var requests: Int { box.counters.withLock { $0.requests } }
    var closed: Int { box.counters.withLock { $0.closed } }

    /// The loop every call of a test runs its connection on, so pooled connections are found again.
    let loop = MultiThreadedEventLoopGroup.singleton.next()

    func url(_ path: String) -> String { "http://127.0.0.1:\(channel.localAddress!.port!)\(path)" }

    private init(channel: any Channel, box: CountersBox) {
        self.channel = channel
        self.box = box
    }

    static func start() async throws -> ScriptServer {
        let box = CountersBox()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                box.update { $0.connections += 1 }
                channel.closeFuture.whenComplete { _ in box.update { $0.closed += 1 } }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: false)
                    try channel.pipeline.syncOperations.addHandler(ScriptHandler(onRequest: { box.update { $0.requests += 1 } }))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return ScriptServer(channel: channel, box: box)
    }

    func stop() async throws {
        try await channel.close()
    }

    /// Shared by the server's connections and read by the test.
    private final class CountersBox: Sendable {
        let counters = Mutex<(connections: Int, requests: Int, closed: Int)>((0, 0, 0))
        func update(_ change: (inout (connections: Int, requests: Int, closed: Int)) -> Void) {
            counters.withLock { change(&$0) }
        }
    }
}

fileprivate final class ScriptHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let onRequest: @Sendable () -> Void
    private var path = ""
    private var requestsOnConnection = 0

    init(onRequest: @escaping @Sendable () -> Void) {
        self.onRequest = onRequest
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            path = head.uri
        case .body:
            break
        case .end:
            requestsOnConnection += 1
            onRequest()
            answer(context: context)
        }
    }

    private func answer(context: ChannelHandlerContext) {
        switch path {
        case "/drop-second" where requestsOnConnection > 1:
            context.close(promise: nil)
        case "/slow":
            let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .milliseconds(150)) {
                let (handler, context) = bound.value
                handler.path = "/json"
                handler.answer(context: context)
            }
        case "/drop-second-late" where requestsOnConnection > 1:
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .milliseconds(500)) { bound.value.close(promise: nil) }
        case "/close":
            let body = ByteBuffer(string: #"{"ok":true}"#)
            let head = HTTPResponseHead(
                version: .http1_1, status: .ok, headers: ["content-length": "\(body.readableBytes)", "connection": "close"])
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        case "/burst":
            let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-type": "text/event-stream"])
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            for index in 0..<ScriptServer.burstEvents {
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "data: burst \(index)\n\n")))), promise: nil)
            }
            context.flush()
            let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
            for index in 0..<ScriptServer.trickleEvents {
                context.eventLoop.scheduleTask(in: .milliseconds(Int64(100 * (index + 1)))) {
                    let (handler, context) = bound.value
                    context.writeAndFlush(
                        handler.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "data: trickle\n\n")))), promise: nil)
                    if index == ScriptServer.trickleEvents - 1 { context.writeAndFlush(handler.wrapOutboundOut(.end(nil)), promise: nil) }
                }
            }
        case "/json", "/drop-second", "/drop-second-late":
            let body = ByteBuffer(string: #"{"ok":true}"#)
            let head = HTTPResponseHead(
                version: .http1_1, status: .ok, headers: ["content-type": "application/json", "content-length": "\(body.readableBytes)"])
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        case "/stall":
            let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-type": "text/event-stream"])
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "data: first\n\n")))), promise: nil)
        case "/stream":
            let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-type": "text/event-stream"])
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            for index in 0..<ScriptServer.streamChunks {
                context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "data: \(index)\n\n")))), promise: nil)
            }
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        case "/endless":
            let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-type": "text/event-stream"])
            context.writeAndFlush(wrapOutboundOut(.head(head)), promise: nil)
            let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
            context.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(1), delay: .milliseconds(1)) { task in
                let (handler, context) = bound.value
                guard context.channel.isActive else { return task.cancel() }
                context.writeAndFlush(handler.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "data: more\n\n")))), promise: nil)
            }
        default:
            break  // "/never"
        }
    }
}
