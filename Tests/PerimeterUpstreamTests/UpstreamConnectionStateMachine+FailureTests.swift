import NIOCore
import Testing

@testable import PerimeterUpstream

/// Failures, timers, cancellation and closing, on the state machine alone.
@Suite struct UpstreamConnectionStateMachineFailureTests {
    typealias Machine = UpstreamConnectionStateMachine
    typealias Base = UpstreamConnectionStateMachineTests
    static let readTimeout = Base.readTimeout
    static func at(_ milliseconds: Int64) -> NIODeadline { Base.at(milliseconds) }

    // MARK: Stale keep-alive connections

    @Test func aReusedConnectionLostWithinTheStaleWindowIsStale() {
        var machine = Base.sent(reused: true)
        #expect(machine.channelInactive(now: Self.at(249)) == .failHead(.stale))
        #expect(machine.state == .closed)
        var reset = Base.sent(reused: true)
        #expect(reset.errorCaught(.reset("ECONNRESET"), now: Self.at(10)) == .failHead(.stale))
    }

    @Test func aReusedConnectionLostAfterTheStaleWindowIsNotRetried() {
        var machine = Base.sent(reused: true)
        #expect(machine.channelInactive(now: Self.at(250)) == .failHead(.lost("connection closed by upstream")))
    }

    @Test func aNewConnectionLostAtOnceIsNotStale() {
        var machine = Base.sent(reused: false)
        #expect(machine.channelInactive(now: Self.at(1)) == .failHead(.lost("connection closed by upstream")))
    }

    @Test func onlyALossIsStaleNotAnyOtherError() {
        var machine = Base.sent(reused: true)
        #expect(machine.errorCaught(.other("parse error"), now: Self.at(1)) == .failHead(.closed("parse error")))
        var tls = Base.sent(reused: true)
        #expect(tls.errorCaught(.uncleanTLSShutdown("unclean"), now: Self.at(1)) == .failHead(.closed("unclean")))
    }

    // MARK: Errors while streaming or idle

    @Test func aLossWhileStreamingFailsTheBody() {
        var machine = Base.streaming()
        #expect(machine.channelInactive(now: Self.at(1)) == .finishBody(.lost("connection closed by upstream"), then: .close))
        #expect(machine.state == .closed)
        #expect(machine.timerDue == nil)
    }

    @Test func anUncleanTLSShutdownWhileStreamingIsLeftToTheDecoder() {
        var machine = Base.streaming()
        #expect(machine.errorCaught(.uncleanTLSShutdown("unclean"), now: Self.at(1)) == .none)
        #expect(machine.state == .streaming)
        #expect(machine.endReceived() == .finishBody(nil, then: .returnToPool))
    }

    @Test func anErrorWhileStreamingFailsTheBody() {
        var machine = Base.streaming()
        #expect(machine.errorCaught(.other("invalid chunk"), now: Self.at(1)) == .finishBody(.closed("invalid chunk"), then: .close))
    }

    @Test func anIdleConnectionThatFailsJustCloses() {
        var machine = Machine(readTimeout: Self.readTimeout)
        #expect(machine.channelInactive(now: Self.at(1)) == .close)
        #expect(machine.state == .closed)
        #expect(machine.errorCaught(.reset("EPIPE"), now: Self.at(2)) == .close)
        #expect(machine.endReceived() == .none)
    }

    // MARK: Timers

    @Test func noHeadByTheDeadlineIsATimeout() {
        var machine = Base.sent()
        #expect(machine.timerFired(exchange: 1, now: Base.start + Base.headTimeout) == .failHead(.timeout))
        #expect(machine.state == .closed)
    }

    @Test func anEarlyTimerForTheHeadIsArmedAgain() {
        var machine = Base.sent()
        #expect(machine.timerFired(exchange: 1, now: Self.at(10)) == .armTimer(Base.start + Base.headTimeout))
        #expect(machine.state == .awaitingHead)
    }

    @Test func theReadTimeoutCountsFromTheLastRead() {
        var machine = Base.streaming()
        _ = machine.bodyReceived(ByteBuffer(string: "x"), now: Self.at(9_000))
        #expect(machine.timerFired(exchange: 1, now: Self.at(10_000)) == .armTimer(Self.at(19_000)))
        #expect(machine.timerDue == Self.at(19_000))
        #expect(machine.timerFired(exchange: 1, now: Self.at(19_000)) == .finishBody(.timeout, then: .close))
        #expect(machine.state == .closed)
    }

    @Test func aSlowConsumerIsNotMistakenForASilentProvider() {
        var machine = Base.streaming()
        machine.consumerIsBehind()
        _ = machine.readRequested()
        // Long past the read timeout, but reads are paused for the consumer: wait a full timeout more.
        #expect(machine.timerFired(exchange: 1, now: Self.at(60_000)) == .armTimer(Self.at(70_000)))
        #expect(machine.consumerDemandsMore(exchange: 1, now: Self.at(65_000)) == .read)
        #expect(machine.timerFired(exchange: 1, now: Self.at(70_000)) == .armTimer(Self.at(75_000)))
        #expect(machine.timerFired(exchange: 1, now: Self.at(75_000)) == .finishBody(.timeout, then: .close))
    }

    @Test func aTimerOutsideAnExchangeDoesNothing() {
        var idle = Base.streaming()
        _ = idle.endReceived()
        #expect(idle.timerFired(exchange: 1, now: Self.at(1_000_000)) == .none)
        #expect(idle.state == .idle)
        var closed = Base.sent()
        _ = closed.channelInactive(now: Self.at(1))
        #expect(closed.timerFired(exchange: 1, now: Self.at(1_000_000)) == .none)
    }

    @Test func timeoutsCountFromTheCallNotFromTheConnectionsLastUse() {
        var machine = Base.streaming()
        _ = machine.endReceived()
        let later = Self.at(3_600_000)
        #expect(
            machine.executeRequest(headTimeout: .seconds(1), reused: true, isActive: true, now: later)
                == .writeRequest(exchange: 2, timerDue: later + .seconds(1)))
        #expect(machine.timerFired(exchange: 2, now: later + .milliseconds(500)) == .armTimer(later + .seconds(1)))
        _ = machine.headReceived(status: 200, keepAlive: true, now: later + .milliseconds(600))
        #expect(machine.timerFired(exchange: 2, now: later + .seconds(1)) == .armTimer(later + .milliseconds(600) + Self.readTimeout))
    }

    // MARK: Cancellation and closing

    @Test func cancellingWhileAwaitingTheHeadFailsItAndCloses() {
        var machine = Base.sent(reused: true)
        #expect(machine.cancel(exchange: 1) == .failHead(.cancelled))
        #expect(machine.state == .closed)
        #expect(machine.timerDue == nil)
        #expect(machine.channelInactive(now: Self.at(1)) == .close)
        #expect(machine.headReceived(status: 200, keepAlive: true, now: Self.at(2)) == .none)
    }

    @Test func cancellingAfterTheHeadIsLeftToTheBodysConsumer() {
        var streaming = Base.streaming()
        #expect(streaming.cancel(exchange: 1) == .none)
        #expect(streaming.state == .streaming)
        var idle = Machine(readTimeout: Self.readTimeout)
        #expect(idle.cancel(exchange: 0) == .none)
        #expect(idle.state == .idle)
    }

    @Test func closeIfIdleClosesOnlyAnIdleConnection() {
        var idle = Machine(readTimeout: Self.readTimeout)
        #expect(idle.closeIfIdle() == .close)
        #expect(idle.state == .closed)
        #expect(idle.closeIfIdle() == .none)
        var busy = Base.sent()
        #expect(busy.closeIfIdle() == .none)
        #expect(busy.state == .awaitingHead)
        var streaming = Base.streaming()
        #expect(streaming.closeIfIdle() == .none)
    }
}
