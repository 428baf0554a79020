import NIOCore
import NIOEmbedded
import NIOHTTP1
import Synchronization

@testable import PerimeterUpstream

/// An ``UpstreamConnectionHandler`` in the client pipeline it has in production, on an
/// `EmbeddedChannel`: the test writes the provider's bytes inbound, reads the request's bytes
/// outbound, and moves time with `advanceTime`.
final class EmbeddedConnection {
    let channel = EmbeddedChannel()
    let handler: UpstreamConnectionHandler
    private let reads = ReadCounter()
    private let bodyEnds = Counter()
    private(set) var idles = 0

    var loop: EmbeddedEventLoop { channel.embeddedEventLoop }
    /// Reads the handler let through to the channel.
    var readsPassed: Int { reads.count }
    var bodyEndCalls: Int { bodyEnds.value }

    init(readTimeout: TimeAmount = .seconds(10)) throws {
        handler = UpstreamConnectionHandler(readTimeout: readTimeout)
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandler(reads)
        try pipeline.addHTTPClientHandlers()
        try pipeline.addHandler(handler)
        handler.onIdle = { [unowned self] in idles += 1 }
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8080)).wait()
    }

    /// Sends a request; `outcome` is set when the head's future completes.
    func execute(headTimeout: TimeAmount = .seconds(30), reused: Bool = false) -> Exchange {
        let exchange = Exchange(
            request: PendingRequest(
                origin: UpstreamOrigin(tls: false, host: "127.0.0.1", port: 8080),
                head: HTTPRequestHead(
                    version: .http1_1, method: .POST, uri: "/v1/chat/completions", headers: ["host": "127.0.0.1", "content-length": "2"]),
                body: ByteBuffer(string: "{}"), headTimeout: headTimeout, onBodyEnd: { [bodyEnds] in bodyEnds.increment() }))
        handler.execute(exchange.request, reused: reused, on: loop).assumeIsolated().whenComplete { exchange.outcome = $0 }
        return exchange
    }

    /// Everything written to the provider so far.
    func written() throws -> String {
        var text = ""
        while let part = try channel.readOutbound(as: IOData.self) {
            guard case .byteBuffer(let buffer) = part else { continue }
            text += String(buffer: buffer)
        }
        return text
    }

    func receive(_ text: String) throws {
        try channel.writeInbound(ByteBuffer(string: text))
    }

    final class Exchange {
        let request: PendingRequest
        var outcome: Result<UpstreamResponseStart, any Error>?

        init(request: PendingRequest) {
            self.request = request
        }

        var start: UpstreamResponseStart? { try? outcome?.get() }
        var error: UpstreamConnectionError? {
            guard case .failure(let error) = outcome else { return nil }
            return error as? UpstreamConnectionError
        }
    }

    /// `onBodyEnd` must be `Sendable`, though here it runs on the test's thread.
    private final class Counter: Sendable {
        private let count = Mutex(0)
        var value: Int { count.withLock { $0 } }
        func increment() { count.withLock { $0 += 1 } }
    }

    /// Counts the reads that reach the channel.
    private final class ReadCounter: ChannelOutboundHandler {
        typealias OutboundIn = ByteBuffer
        private(set) var count = 0

        func read(context: ChannelHandlerContext) {
            count += 1
            context.read()
        }
    }
}
