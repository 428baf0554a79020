import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// The answer to one upstream request as far as its head: status and headers, and the body still to
/// come as an async sequence fed straight from the connection's reads.
package struct UpstreamResponseStart: Sendable {
    package typealias Body = NIOThrowingAsyncSequenceProducer<
        ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, UpstreamBodyDelegate
    >
    package let head: HTTPResponseHead
    package let body: Body
}

enum UpstreamConnectionError: Error {
    /// A reused keep-alive connection was closed by the server before it sent a byte of the answer; the
    /// request can go again on a new connection.
    case stale
    /// No response head within the deadline, or no bytes for the read timeout while a body streamed.
    case timeout
    /// The connection closed or failed while an answer was expected.
    case closed(String)
    /// The peer closed or reset the connection (end of file, `ECONNRESET`, `EPIPE`), as a server does
    /// to a keep-alive connection it no longer wants; the only failure a retry may follow.
    case lost(String)
}

/// Backpressure from the body's consumer to the connection: reading resumes when the consumer has
/// caught up, and a consumer that stops early (the client left) closes the connection, since the rest
/// of that body would otherwise be read into a connection someone else reuses.
package struct UpstreamBodyDelegate: NIOAsyncSequenceProducerDelegate {
    let handler: NIOLoopBound<UpstreamConnectionHandler>
    let exchange: Int

    package func produceMore() {
        handler.eventLoop.execute { handler.value.resumeReading(exchange: exchange) }
    }

    package func didTerminate() {
        handler.eventLoop.execute { handler.value.consumerTerminated(exchange: exchange) }
    }
}

/// One HTTP/1.1 connection to a provider, one exchange at a time. Confined to its channel's event loop.
///
/// The request's head, body and end are written with one flush (one `writev`); the answer's body is
/// handed on chunk by chunk as it is read, with reads paused while the consumer is behind.
final class UpstreamConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private enum State {
        case idle
        case awaitingHead(EventLoopPromise<UpstreamResponseStart>, reused: Bool, onBodyEnd: @Sendable () -> Void)
        case streaming(UpstreamResponseStart.Body.Source, keepAlive: Bool, onBodyEnd: @Sendable () -> Void)
        case closed
    }

    private var state = State.idle
    private var context: ChannelHandlerContext?
    /// Numbers the exchanges on this connection, so a late signal from an earlier body is ignored.
    private var exchange = 0
    private var consumerWantsMore = true
    private var readPending = false
    /// One timer per exchange: the head must come by `headDue`, then bytes at least every `readTimeout`.
    private let readTimeout: TimeAmount
    private var headDue = NIODeadline.distantFuture
    private var lastRead = NIODeadline.now()
    private var timer: Scheduled<Void>?
    private var timerDue = NIODeadline.distantFuture
    /// When the request was flushed, and whether all of it has been written: a connection goes back to
    /// the pool only when both its request and its answer are complete.
    private var sentAt = NIODeadline.now()
    private var requestWritten = false
    /// A reused connection that fails this soon after the request left, without an answer byte, was
    /// closed by the server before it read the request; later failures are never retried.
    static let staleWindow = TimeAmount.milliseconds(250)
    /// Called when an exchange ended cleanly and the connection can serve another.
    var onIdle: (() -> Void)?

    init(readTimeout: TimeAmount) {
        self.readTimeout = readTimeout
    }

    var isIdle: Bool {
        if case .idle = state, context?.channel.isActive == true { return true }
        return false
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// Sends one request. The future succeeds with the answer's head, or fails with
    /// ``UpstreamConnectionError``.
    func execute(_ request: PendingRequest, reused: Bool, on eventLoop: any EventLoop) -> EventLoopFuture<UpstreamResponseStart> {
        guard case .idle = state, let context, context.channel.isActive else {
            return eventLoop.makeFailedFuture(reused ? UpstreamConnectionError.stale : UpstreamConnectionError.closed("not connected"))
        }
        exchange += 1
        consumerWantsMore = true
        let promise = eventLoop.makePromise(of: UpstreamResponseStart.self)
        headDue = .now() + request.headTimeout
        armTimer(at: headDue, context: context)
        state = .awaitingHead(promise, reused: reused, onBodyEnd: request.onBodyEnd)
        requestWritten = false
        sentAt = .now()
        context.write(wrapOutboundOut(.head(request.head)), promise: nil)
        if let body = request.body, body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        let written = eventLoop.makePromise(of: Void.self)
        let current = exchange
        written.futureResult.assumeIsolated().whenSuccess { [self] in
            if exchange == current { requestWritten = true }
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        return promise.futureResult
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            // 1xx answers (100 Continue) are followed by the real head. The gateway never asks to switch
            // protocols, so a 101 means the connection is no longer HTTP.
            if head.status.code == 101 { return fail(.closed("unexpected 101 Switching Protocols"), context: context) }
            guard head.status.code >= 200 else { return }
            guard case .awaitingHead(let promise, _, let onBodyEnd) = state else { return }
            lastRead = .now()
            // From here on the read timeout applies; the head's timer is kept when it fires sooner anyway.
            if timerDue > lastRead + readTimeout { armTimer(at: lastRead + readTimeout, context: context) }
            let sequence = UpstreamResponseStart.Body.makeSequence(
                backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8),
                finishOnDeinit: true,
                delegate: UpstreamBodyDelegate(handler: NIOLoopBound(self, eventLoop: context.eventLoop), exchange: exchange))
            state = .streaming(sequence.source, keepAlive: head.isKeepAlive, onBodyEnd: onBodyEnd)
            promise.succeed(UpstreamResponseStart(head: head, body: sequence.sequence))
        case .body(let buffer):
            guard case .streaming(let source, _, _) = state else { return }
            lastRead = .now()
            if source.yield(buffer) == .stopProducing { consumerWantsMore = false }
        case .end:
            guard case .streaming(let source, let keepAlive, let onBodyEnd) = state else { return }
            // The slot is given back before the consumer can see the end and start its next call.
            onBodyEnd()
            source.finish()
            state = .idle
            consumerWantsMore = true
            timer?.cancel()
            timer = nil
            // An answer that came before the request was all written (a 413 to a large body) leaves
            // the rest of the request on the wire; that connection cannot carry another.
            if keepAlive, requestWritten {
                onIdle?()
            } else {
                close(context: context)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A TLS peer that closes without close_notify while a body streams: the HTTP decoder still
        // decides, at the close, whether the body was complete (its end) or cut (a parse error).
        if case .streaming = state, let error = error as? NIOSSLError, error == .uncleanShutdown { return }
        if let error = error as? IOError, error.errnoCode == ECONNRESET || error.errnoCode == EPIPE {
            fail(.lost(String(describing: error)), context: context)
        } else {
            fail(.closed(String(describing: error)), context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(.lost("connection closed by upstream"), context: context)
        context.fireChannelInactive()
    }

    // MARK: Outbound

    func read(context: ChannelHandlerContext) {
        if consumerWantsMore {
            context.read()
        } else {
            readPending = true
        }
    }

    // MARK: Signals

    /// Closes the connection unless an exchange is using it.
    func closeIfIdle() {
        guard case .idle = state, let context else { return }
        state = .closed
        context.close(promise: nil)
    }

    func resumeReading(exchange: Int) {
        guard exchange == self.exchange, !consumerWantsMore else { return }
        consumerWantsMore = true
        // The read timeout measures the provider, not a slow client: it starts again from here.
        lastRead = .now()
        if readPending, let context {
            readPending = false
            context.read()
        }
    }

    func consumerTerminated(exchange: Int) {
        guard exchange == self.exchange, case .streaming(let source, _, let onBodyEnd) = state, let context else { return }
        onBodyEnd()
        source.finish()
        state = .closed
        context.close(promise: nil)
    }

    /// Only an exchange in progress has a deadline; an idle pooled connection just waits.
    private func armTimer(at due: NIODeadline, context: ChannelHandlerContext) {
        timer?.cancel()
        timerDue = due
        let exchange = exchange
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: due) {
            handler.value.timerFired(exchange: exchange)
        }
    }

    private func timerFired(exchange: Int) {
        guard exchange == self.exchange, let context else { return }
        let due: NIODeadline
        switch state {
        case .awaitingHead: due = headDue
        // Reads are paused for a slow consumer: the provider is not the one keeping us waiting.
        case .streaming where !consumerWantsMore: due = NIODeadline.now() + readTimeout
        case .streaming: due = lastRead + readTimeout
        case .idle, .closed: return
        }
        if NIODeadline.now() >= due {
            fail(UpstreamConnectionError.timeout, context: context)
        } else {
            armTimer(at: due, context: context)
        }
    }

    private func fail(_ error: UpstreamConnectionError, context: ChannelHandlerContext) {
        let previous = state
        state = .closed
        timer?.cancel()
        timer = nil
        switch previous {
        case .awaitingHead(let promise, let reused, _):
            if reused, case .lost = error, NIODeadline.now() - sentAt < Self.staleWindow {
                promise.fail(UpstreamConnectionError.stale)
            } else {
                promise.fail(error)
            }
        case .streaming(let source, _, let onBodyEnd):
            onBodyEnd()
            source.finish(error)
        case .idle, .closed:
            break
        }
        close(context: context)
    }

    private func close(context: ChannelHandlerContext) {
        state = .closed
        if context.channel.isActive { context.close(promise: nil) }
    }
}
