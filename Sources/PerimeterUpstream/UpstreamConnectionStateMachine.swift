import NIOCore

/// The life of one upstream HTTP/1.1 connection as a value: events in, actions out, no I/O.
///
/// ``UpstreamConnectionHandler`` feeds it what the channel, the body's consumer and the timer report,
/// with the time as its event loop sees it, and carries out the action it returns. Every signal that
/// can outlive its exchange (a write completing, a timer, the consumer's demand) names the exchange it
/// belongs to, and a signal from an earlier one is ignored.
struct UpstreamConnectionStateMachine {
    enum State: Equatable {
        case idle
        case awaitingHead
        case streaming
        case closed
    }

    /// What the reading side of the connection does once a body has ended.
    enum AfterBody: Equatable {
        /// The exchange ended cleanly on a keep-alive connection whose request was all written.
        case returnToPool
        case close
    }

    enum Action: Equatable {
        case none
        /// Arm the timer for `timerDue`, then write and flush the request for this exchange.
        case writeRequest(exchange: Int, timerDue: NIODeadline)
        /// The connection cannot take a request; nothing was sent.
        case rejectRequest(UpstreamConnectionError)
        /// Make the body's sequence for this exchange and succeed the head's promise with it; arm the
        /// timer for `timerDue` first when there is one.
        case succeedHead(exchange: Int, timerDue: NIODeadline?)
        /// Cancel the timer, fail the head's promise and close the connection.
        case failHead(UpstreamConnectionError)
        case yieldBody(ByteBuffer)
        /// Cancel the timer, call `onBodyEnd` (the slot goes back before the consumer can see the end),
        /// finish the body (with the error, if any), then return the connection to the pool or close it.
        case finishBody(UpstreamConnectionError?, then: AfterBody)
        /// Pass a read on to the channel.
        case read
        case armTimer(NIODeadline)
        /// Close the connection (when it is still open).
        case close
    }

    /// How an error reached the connection, as far as deciding what it means.
    enum ErrorKind: Equatable {
        /// `ECONNRESET` or `EPIPE`: the peer reset or closed the connection.
        case reset(String)
        /// A TLS peer closed without close_notify.
        case uncleanTLSShutdown(String)
        case other(String)
    }

    /// A reused connection that fails this soon after the request left, without an answer byte, was
    /// closed by the server before it read the request; later failures are never retried.
    static let staleWindow = TimeAmount.milliseconds(250)

    private(set) var state = State.idle
    /// Numbers the exchanges on this connection, so a late signal from an earlier one is ignored.
    private(set) var exchange = 0
    /// False while the body's consumer is behind: reads wait, and so does the read timeout.
    private(set) var consumerWantsMore = true
    private(set) var readPending = false
    /// One timer per exchange: the head must come by `headDue`, then bytes at least every `readTimeout`.
    let readTimeout: TimeAmount
    private(set) var headDue = NIODeadline.distantFuture
    private(set) var lastRead = NIODeadline.distantPast
    private(set) var timerDue: NIODeadline?
    /// When the request was flushed, and whether all of it has been written: a connection goes back to
    /// the pool only when both its request and its answer are complete.
    private(set) var sentAt = NIODeadline.distantPast
    private(set) var requestWritten = false
    private(set) var reused = false
    private(set) var keepAlive = false

    init(readTimeout: TimeAmount) {
        self.readTimeout = readTimeout
    }

    // MARK: The request

    mutating func executeRequest(headTimeout: TimeAmount, reused: Bool, isActive: Bool, now: NIODeadline) -> Action {
        guard state == .idle, isActive else {
            return .rejectRequest(reused ? .stale : .closed("not connected"))
        }
        exchange += 1
        state = .awaitingHead
        consumerWantsMore = true
        self.reused = reused
        keepAlive = false
        requestWritten = false
        sentAt = now
        headDue = now + headTimeout
        timerDue = headDue
        return .writeRequest(exchange: exchange, timerDue: headDue)
    }

    mutating func requestWritten(exchange: Int) {
        if exchange == self.exchange { requestWritten = true }
    }

    // MARK: The answer

    mutating func headReceived(status: Int, keepAlive: Bool, now: NIODeadline) -> Action {
        // The gateway never asks to switch protocols, so a 101 means the connection is no longer HTTP.
        if status == 101 { return fail(.closed("unexpected 101 Switching Protocols"), now: now) }
        // 1xx answers (100 Continue) are followed by the real head.
        guard status >= 200, state == .awaitingHead else { return .none }
        state = .streaming
        self.keepAlive = keepAlive
        lastRead = now
        // From here on the read timeout applies; the head's timer is kept when it fires sooner anyway.
        var rearm: NIODeadline?
        if (timerDue ?? .distantFuture) > now + readTimeout {
            rearm = now + readTimeout
            timerDue = rearm
        }
        return .succeedHead(exchange: exchange, timerDue: rearm)
    }

    mutating func bodyReceived(_ buffer: ByteBuffer, now: NIODeadline) -> Action {
        guard state == .streaming else { return .none }
        lastRead = now
        return .yieldBody(buffer)
    }

    /// The body's sequence refused more (its buffer is above the high watermark).
    mutating func consumerIsBehind() {
        if state == .streaming { consumerWantsMore = false }
    }

    mutating func endReceived() -> Action {
        guard state == .streaming else { return .none }
        consumerWantsMore = true
        timerDue = nil
        // An answer that came before the request was all written (a 413 to a large body) leaves the
        // rest of the request on the wire; that connection cannot carry another.
        if keepAlive, requestWritten {
            state = .idle
            return .finishBody(nil, then: .returnToPool)
        }
        state = .closed
        return .finishBody(nil, then: .close)
    }

    // MARK: Failures

    mutating func errorCaught(_ kind: ErrorKind, now: NIODeadline) -> Action {
        switch kind {
        // While a body streams, the HTTP decoder still decides, at the close, whether the body was
        // complete (its end) or cut (a parse error).
        case .uncleanTLSShutdown where state == .streaming: return .none
        case .uncleanTLSShutdown(let description), .other(let description): return fail(.closed(description), now: now)
        case .reset(let description): return fail(.lost(description), now: now)
        }
    }

    mutating func channelInactive(now: NIODeadline) -> Action {
        fail(.lost("connection closed by upstream"), now: now)
    }

    private mutating func fail(_ error: UpstreamConnectionError, now: NIODeadline) -> Action {
        let previous = state
        state = .closed
        timerDue = nil
        switch previous {
        case .awaitingHead:
            if reused, case .lost = error, now - sentAt < Self.staleWindow { return .failHead(.stale) }
            return .failHead(error)
        case .streaming:
            return .finishBody(error, then: .close)
        case .idle, .closed:
            return .close
        }
    }

    // MARK: Reads and the consumer

    mutating func readRequested() -> Action {
        guard consumerWantsMore else {
            readPending = true
            return .none
        }
        return .read
    }

    mutating func consumerDemandsMore(exchange: Int, now: NIODeadline) -> Action {
        guard exchange == self.exchange, !consumerWantsMore else { return .none }
        consumerWantsMore = true
        // The read timeout measures the provider, not a slow client: it starts again from here.
        lastRead = now
        guard readPending else { return .none }
        readPending = false
        return .read
    }

    /// The consumer stopped early (the client left): the rest of the body would otherwise be read into
    /// a connection someone else reuses.
    mutating func consumerTerminated(exchange: Int) -> Action {
        guard exchange == self.exchange, state == .streaming else { return .none }
        state = .closed
        timerDue = nil
        return .finishBody(nil, then: .close)
    }

    /// The caller stopped waiting for the head. The connection is mid-exchange and cannot be reused.
    mutating func cancel(exchange: Int) -> Action {
        guard exchange == self.exchange, state == .awaitingHead else { return .none }
        state = .closed
        timerDue = nil
        return .failHead(.cancelled)
    }

    mutating func closeIfIdle() -> Action {
        guard state == .idle else { return .none }
        state = .closed
        return .close
    }

    // MARK: The timer

    mutating func timerFired(exchange: Int, now: NIODeadline) -> Action {
        guard exchange == self.exchange else { return .none }
        let due: NIODeadline
        switch state {
        case .awaitingHead: due = headDue
        // Reads are paused for a slow consumer: the provider is not the one keeping us waiting.
        case .streaming where !consumerWantsMore: due = now + readTimeout
        case .streaming: due = lastRead + readTimeout
        case .idle, .closed: return .none
        }
        if now >= due { return fail(.timeout, now: now) }
        timerDue = due
        return .armTimer(due)
    }
}
