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
/// A shell around ``UpstreamConnectionStateMachine``: it turns the channel's events, the consumer's
/// signals and its timer into the machine's events, and carries out the actions. The request's head,
/// body and end are written with one flush (one `writev`); the answer's body is handed on chunk by
/// chunk as it is read, with reads paused while the consumer is behind.
final class UpstreamConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private var machine: UpstreamConnectionStateMachine
    private var context: ChannelHandlerContext?
    /// What the current exchange is answered through; the machine says when each is used.
    private var promise: EventLoopPromise<UpstreamResponseStart>?
    private var pendingHead: HTTPResponseHead?
    private var source: UpstreamResponseStart.Body.Source?
    private var onBodyEnd: (@Sendable () -> Void)?
    private var timer: Scheduled<Void>?
    /// Called when an exchange ended cleanly and the connection can serve another.
    var onIdle: (() -> Void)?

    init(readTimeout: TimeAmount) {
        self.machine = UpstreamConnectionStateMachine(readTimeout: readTimeout)
    }

    var isIdle: Bool {
        machine.state == .idle && context?.channel.isActive == true
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
        let action = machine.executeRequest(
            headTimeout: request.headTimeout, reused: reused, isActive: context?.channel.isActive == true, now: eventLoop.now)
        guard case .writeRequest(let exchange, let timerDue) = action, let context else {
            if case .rejectRequest(let error) = action { return eventLoop.makeFailedFuture(error) }
            return eventLoop.makeFailedFuture(UpstreamConnectionError.closed("not connected"))
        }
        let promise = eventLoop.makePromise(of: UpstreamResponseStart.self)
        self.promise = promise
        onBodyEnd = request.onBodyEnd
        armTimer(at: timerDue, exchange: exchange)
        context.write(wrapOutboundOut(.head(request.head)), promise: nil)
        if let body = request.body, body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        let written = eventLoop.makePromise(of: Void.self)
        let handler = NIOLoopBound(self, eventLoop: eventLoop)
        written.futureResult.assumeIsolated().whenSuccess { handler.value.machine.requestWritten(exchange: exchange) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        request.cancellation.setHandler { handler.eventLoop.execute { handler.value.cancel(exchange: exchange) } }
        return promise.futureResult
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let now = context.eventLoop.now
        switch unwrapInboundIn(data) {
        case .head(let head):
            pendingHead = head
            run(machine.headReceived(status: Int(head.status.code), keepAlive: head.isKeepAlive, now: now))
            pendingHead = nil
        case .body(let buffer):
            run(machine.bodyReceived(buffer, now: now))
        case .end:
            run(machine.endReceived())
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let description = String(describing: error)
        let kind: UpstreamConnectionStateMachine.ErrorKind
        if let error = error as? NIOSSLError, error == .uncleanShutdown {
            kind = .uncleanTLSShutdown(description)
        } else if let error = error as? IOError, error.errnoCode == ECONNRESET || error.errnoCode == EPIPE {
            kind = .reset(description)
        } else {
            kind = .other(description)
        }
        run(machine.errorCaught(kind, now: context.eventLoop.now))
    }

    func channelInactive(context: ChannelHandlerContext) {
        run(machine.channelInactive(now: context.eventLoop.now))
        context.fireChannelInactive()
    }

    // MARK: Outbound

    func read(context: ChannelHandlerContext) {
        run(machine.readRequested())
    }

    // MARK: Signals

    /// Closes the connection unless an exchange is using it.
    func closeIfIdle() {
        run(machine.closeIfIdle())
    }

    func resumeReading(exchange: Int) {
        guard let context else { return }
        run(machine.consumerDemandsMore(exchange: exchange, now: context.eventLoop.now))
    }

    func consumerTerminated(exchange: Int) {
        run(machine.consumerTerminated(exchange: exchange))
    }

    func cancel(exchange: Int) {
        run(machine.cancel(exchange: exchange))
    }

    private func timerFired(exchange: Int) {
        guard let context else { return }
        run(machine.timerFired(exchange: exchange, now: context.eventLoop.now))
    }

    // MARK: Actions

    private func run(_ action: UpstreamConnectionStateMachine.Action) {
        guard let context else { return }
        switch action {
        case .none, .writeRequest, .rejectRequest:
            break
        case .succeedHead(let exchange, let timerDue):
            guard let head = pendingHead, let promise else { return }
            if let timerDue { armTimer(at: timerDue, exchange: exchange) }
            let sequence = UpstreamResponseStart.Body.makeSequence(
                backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8),
                finishOnDeinit: true,
                delegate: UpstreamBodyDelegate(handler: NIOLoopBound(self, eventLoop: context.eventLoop), exchange: exchange))
            self.promise = nil
            source = sequence.source
            promise.succeed(UpstreamResponseStart(head: head, body: sequence.sequence))
        case .failHead(let error):
            cancelTimer()
            let promise = self.promise
            self.promise = nil
            onBodyEnd = nil
            promise?.fail(error)
            close(context: context)
        case .yieldBody(let buffer):
            if source?.yield(buffer) == .stopProducing { machine.consumerIsBehind() }
        case .finishBody(let error, let after):
            cancelTimer()
            let (source, onBodyEnd) = (self.source, self.onBodyEnd)
            self.source = nil
            self.onBodyEnd = nil
            // The slot is given back before the consumer can see the end and start its next call.
            onBodyEnd?()
            if let error { source?.finish(error) } else { source?.finish() }
            switch after {
            case .returnToPool: onIdle?()
            case .close: close(context: context)
            }
        case .read:
            context.read()
        case .armTimer(let due):
            armTimer(at: due, exchange: machine.exchange)
        case .close:
            close(context: context)
        }
    }

    /// Only an exchange in progress has a deadline; an idle pooled connection just waits.
    private func armTimer(at due: NIODeadline, exchange: Int) {
        guard let context else { return }
        timer?.cancel()
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: due) {
            handler.value.timerFired(exchange: exchange)
        }
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
    }

    private func close(context: ChannelHandlerContext) {
        if context.channel.isActive { context.close(promise: nil) }
    }
}
