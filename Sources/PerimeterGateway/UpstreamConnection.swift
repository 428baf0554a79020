import NIOCore
import NIOHTTP1

/// The answer to one upstream request as far as its head: status and headers, and the body still to
/// come as an async sequence fed straight from the connection's reads.
struct UpstreamResponseStart: Sendable {
    typealias Body = NIOThrowingAsyncSequenceProducer<
        ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, UpstreamBodyDelegate
    >
    let head: HTTPResponseHead
    let body: Body
}

enum UpstreamConnectionError: Error {
    /// A reused keep-alive connection was closed by the server before it sent a byte of the answer; the
    /// request can go again on a new connection.
    case stale
    /// No response head within the deadline, or no bytes for the read timeout while a body streamed.
    case timeout
    /// The connection closed or failed while an answer was expected.
    case closed(String)
}

/// Backpressure from the body's consumer to the connection: reading resumes when the consumer has
/// caught up, and a consumer that stops early (the client left) closes the connection, since the rest
/// of that body would otherwise be read into a connection someone else reuses.
struct UpstreamBodyDelegate: NIOAsyncSequenceProducerDelegate {
    let handler: NIOLoopBound<UpstreamConnectionHandler>
    let exchange: Int

    func produceMore() {
        handler.eventLoop.execute { handler.value.resumeReading(exchange: exchange) }
    }

    func didTerminate() {
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
        case awaitingHead(EventLoopPromise<UpstreamResponseStart>, deadline: Scheduled<Void>?, reused: Bool)
        case streaming(UpstreamResponseStart.Body.Source, keepAlive: Bool)
        case closed
    }

    private var state = State.idle
    private var context: ChannelHandlerContext?
    /// Numbers the exchanges on this connection, so a late signal from an earlier body is ignored.
    private var exchange = 0
    private var consumerWantsMore = true
    private var readPending = false
    /// Called when an exchange ended cleanly and the connection can serve another.
    var onIdle: (() -> Void)?

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
    func execute(
        head: HTTPRequestHead, body: ByteBuffer?, headTimeout: TimeAmount, reused: Bool, on eventLoop: any EventLoop
    ) -> EventLoopFuture<UpstreamResponseStart> {
        guard case .idle = state, let context, context.channel.isActive else {
            return eventLoop.makeFailedFuture(reused ? UpstreamConnectionError.stale : UpstreamConnectionError.closed("not connected"))
        }
        exchange += 1
        consumerWantsMore = true
        let promise = eventLoop.makePromise(of: UpstreamResponseStart.self)
        let exchange = exchange
        let deadline = eventLoop.scheduleTask(in: headTimeout) { [self] in
            headDeadlinePassed(exchange: exchange)
        }
        state = .awaitingHead(promise, deadline: deadline, reused: reused)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if let body, body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        return promise.futureResult
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            // 1xx answers (100 Continue) are followed by the real head.
            guard head.status.code >= 200 || head.status.code == 101 else { return }
            guard case .awaitingHead(let promise, let deadline, _) = state else { return }
            deadline?.cancel()
            let sequence = UpstreamResponseStart.Body.makeSequence(
                backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8),
                finishOnDeinit: true,
                delegate: UpstreamBodyDelegate(handler: NIOLoopBound(self, eventLoop: context.eventLoop), exchange: exchange))
            state = .streaming(sequence.source, keepAlive: head.isKeepAlive)
            promise.succeed(UpstreamResponseStart(head: head, body: sequence.sequence))
        case .body(let buffer):
            guard case .streaming(let source, _) = state else { return }
            if source.yield(buffer) == .stopProducing { consumerWantsMore = false }
        case .end:
            guard case .streaming(let source, let keepAlive) = state else { return }
            source.finish()
            state = .idle
            consumerWantsMore = true
            if keepAlive {
                onIdle?()
            } else {
                close(context: context)
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            // Only an exchange in progress has a read timeout; an idle pooled connection just waits.
            switch state {
            case .awaitingHead, .streaming: fail(UpstreamConnectionError.timeout, context: context)
            case .idle, .closed: break
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(UpstreamConnectionError.closed(String(describing: error)), context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(UpstreamConnectionError.closed("connection closed by upstream"), context: context)
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
        if readPending, let context {
            readPending = false
            context.read()
        }
    }

    func consumerTerminated(exchange: Int) {
        guard exchange == self.exchange, case .streaming(let source, _) = state, let context else { return }
        source.finish()
        state = .closed
        context.close(promise: nil)
    }

    private func headDeadlinePassed(exchange: Int) {
        guard exchange == self.exchange, case .awaitingHead = state, let context else { return }
        fail(UpstreamConnectionError.timeout, context: context)
    }

    private func fail(_ error: UpstreamConnectionError, context: ChannelHandlerContext) {
        let previous = state
        state = .closed
        switch previous {
        case .awaitingHead(let promise, let deadline, let reused):
            deadline?.cancel()
            if reused, case .closed = error { promise.fail(UpstreamConnectionError.stale) } else { promise.fail(error) }
        case .streaming(let source, _):
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
