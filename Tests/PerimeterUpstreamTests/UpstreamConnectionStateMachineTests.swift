import NIOCore
import Testing

@testable import PerimeterUpstream

/// The connection's state machine on its own: no channel, no sockets, time as plain deadlines.
@Suite struct UpstreamConnectionStateMachineTests {
    typealias Machine = UpstreamConnectionStateMachine
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    static let readTimeout = TimeAmount.seconds(10)
    static let headTimeout = TimeAmount.seconds(30)

    static func at(_ milliseconds: Int64) -> NIODeadline { start + .milliseconds(milliseconds) }

    /// A machine with one exchange sent at `start`, its request all written.
    static func sent(reused: Bool = false) -> Machine {
        var machine = Machine(readTimeout: readTimeout)
        _ = machine.executeRequest(headTimeout: headTimeout, reused: reused, isActive: true, now: start)
        machine.requestWritten(exchange: machine.exchange)
        return machine
    }

    static func streaming(keepAlive: Bool = true) -> Machine {
        var machine = sent()
        _ = machine.headReceived(status: 200, keepAlive: keepAlive, now: start)
        return machine
    }

    // MARK: Sending

    @Test func anIdleOpenConnectionSendsAndArmsTheHeadsDeadline() {
        var machine = Machine(readTimeout: Self.readTimeout)
        let action = machine.executeRequest(headTimeout: Self.headTimeout, reused: false, isActive: true, now: Self.start)
        #expect(action == .writeRequest(exchange: 1, timerDue: Self.start + Self.headTimeout))
        #expect(machine.state == .awaitingHead)
        #expect(!machine.requestWritten)
    }

    @Test(arguments: [true, false])
    func aConnectionThatCannotSendRejectsWithoutChangingState(reused: Bool) {
        let expected: UpstreamConnectionError = reused ? .stale : .closed("not connected")
        var inactive = Machine(readTimeout: Self.readTimeout)
        #expect(
            inactive.executeRequest(headTimeout: Self.headTimeout, reused: reused, isActive: false, now: Self.start)
                == .rejectRequest(expected))
        #expect(inactive.state == .idle)
        #expect(inactive.exchange == 0)
        var busy = Self.sent()
        #expect(
            busy.executeRequest(headTimeout: Self.headTimeout, reused: reused, isActive: true, now: Self.start) == .rejectRequest(expected))
        #expect(busy.exchange == 1)
        var streaming = Self.streaming()
        #expect(
            streaming.executeRequest(headTimeout: Self.headTimeout, reused: reused, isActive: true, now: Self.start)
                == .rejectRequest(expected))
        var closed = Self.sent()
        _ = closed.channelInactive(now: Self.start)
        #expect(
            closed.executeRequest(headTimeout: Self.headTimeout, reused: reused, isActive: true, now: Self.start)
                == .rejectRequest(expected))
    }

    @Test func aWriteCompletingForAnEarlierExchangeIsIgnored() {
        var machine = Self.streaming()
        _ = machine.endReceived()
        _ = machine.executeRequest(headTimeout: Self.headTimeout, reused: true, isActive: true, now: Self.at(5))
        machine.requestWritten(exchange: 1)
        #expect(!machine.requestWritten)
        machine.requestWritten(exchange: 2)
        #expect(machine.requestWritten)
    }

    // MARK: The head

    @Test func theHeadStartsTheBodyAndTheReadTimeout() {
        var machine = Self.sent()
        let action = machine.headReceived(status: 200, keepAlive: true, now: Self.at(100))
        #expect(action == .succeedHead(exchange: 1, timerDue: Self.at(100) + Self.readTimeout))
        #expect(machine.state == .streaming)
        #expect(machine.keepAlive)
        #expect(machine.lastRead == Self.at(100))
    }

    @Test func aHeadDeadlineSoonerThanTheReadTimeoutIsKept() {
        var machine = Machine(readTimeout: Self.readTimeout)
        _ = machine.executeRequest(headTimeout: .seconds(1), reused: false, isActive: true, now: Self.start)
        #expect(machine.headReceived(status: 200, keepAlive: true, now: Self.at(500)) == .succeedHead(exchange: 1, timerDue: nil))
        #expect(machine.timerDue == Self.at(1000))
    }

    @Test(arguments: [100, 102, 103])
    func anInterimAnswerWaitsForTheRealHead(status: Int) {
        var machine = Self.sent()
        #expect(machine.headReceived(status: status, keepAlive: true, now: Self.at(10)) == .none)
        #expect(machine.state == .awaitingHead)
        #expect(
            machine.headReceived(status: 201, keepAlive: true, now: Self.at(20))
                == .succeedHead(exchange: 1, timerDue: Self.at(20) + Self.readTimeout))
    }

    @Test func switchingProtocolsFailsTheHeadAndClosesEvenWhenReused() {
        var machine = Self.sent(reused: true)
        #expect(
            machine.headReceived(status: 101, keepAlive: true, now: Self.at(1)) == .failHead(.closed("unexpected 101 Switching Protocols")))
        #expect(machine.state == .closed)
        var streaming = Self.streaming()
        #expect(
            streaming.headReceived(status: 101, keepAlive: true, now: Self.at(1))
                == .finishBody(.closed("unexpected 101 Switching Protocols"), then: .close))
    }

    @Test func aHeadOutsideAnExchangeIsIgnored() {
        var idle = Machine(readTimeout: Self.readTimeout)
        #expect(idle.headReceived(status: 200, keepAlive: true, now: Self.start) == .none)
        #expect(idle.state == .idle)
        var streaming = Self.streaming()
        #expect(streaming.headReceived(status: 200, keepAlive: true, now: Self.start) == .none)
        #expect(streaming.state == .streaming)
    }

    // MARK: The body

    @Test func bodyPartsAreYieldedOnlyWhileStreaming() {
        let part = ByteBuffer(string: "data: 1\n\n")
        var awaiting = Self.sent()
        #expect(awaiting.bodyReceived(part, now: Self.at(1)) == .none)
        var idle = Machine(readTimeout: Self.readTimeout)
        #expect(idle.bodyReceived(part, now: Self.at(1)) == .none)
        var streaming = Self.streaming()
        #expect(streaming.bodyReceived(part, now: Self.at(7)) == .yieldBody(part))
        #expect(streaming.lastRead == Self.at(7))
    }

    @Test func aKeptAliveAnswerEndsIdleAndGoesBackToThePool() {
        var machine = Self.streaming(keepAlive: true)
        #expect(machine.endReceived() == .finishBody(nil, then: .returnToPool))
        #expect(machine.state == .idle)
        #expect(machine.timerDue == nil)
        #expect(machine.endReceived() == .none)
    }

    @Test func anAnswerWithoutKeepAliveClosesItsConnection() {
        var machine = Self.streaming(keepAlive: false)
        #expect(machine.endReceived() == .finishBody(nil, then: .close))
        #expect(machine.state == .closed)
    }

    @Test func anAnswerBeforeTheRequestWasAllWrittenClosesItsConnection() {
        var machine = Machine(readTimeout: Self.readTimeout)
        _ = machine.executeRequest(headTimeout: Self.headTimeout, reused: false, isActive: true, now: Self.start)
        _ = machine.headReceived(status: 413, keepAlive: true, now: Self.at(1))
        #expect(machine.endReceived() == .finishBody(nil, then: .close))
        #expect(machine.state == .closed)
    }

    @Test func aConsumerThatStopsEarlyClosesTheConnection() {
        var machine = Self.streaming()
        #expect(machine.consumerTerminated(exchange: 1) == .finishBody(nil, then: .close))
        #expect(machine.state == .closed)
        #expect(machine.consumerTerminated(exchange: 1) == .none)
    }

    @Test func aConsumerOfAnEarlierExchangeStoppingLeavesTheCurrentOneAlone() {
        var machine = Self.streaming()
        _ = machine.endReceived()
        _ = machine.executeRequest(headTimeout: Self.headTimeout, reused: true, isActive: true, now: Self.at(5))
        _ = machine.headReceived(status: 200, keepAlive: true, now: Self.at(6))
        #expect(machine.consumerTerminated(exchange: 1) == .none)
        #expect(machine.consumerDemandsMore(exchange: 1, now: Self.at(7)) == .none)
        #expect(machine.timerFired(exchange: 1, now: Self.at(100_000)) == .none)
        #expect(machine.cancel(exchange: 1) == .none)
        #expect(machine.state == .streaming)
    }

    // MARK: Reads and backpressure

    @Test func readsPassWhileTheConsumerKeepsUp() {
        var machine = Self.streaming()
        #expect(machine.readRequested() == .read)
        #expect(!machine.readPending)
    }

    @Test func aConsumerBehindHoldsTheReadUntilItAsksForMore() {
        var machine = Self.streaming()
        machine.consumerIsBehind()
        #expect(machine.readRequested() == .none)
        #expect(machine.readPending)
        #expect(machine.consumerDemandsMore(exchange: 1, now: Self.at(50)) == .read)
        #expect(!machine.readPending)
        #expect(machine.consumerWantsMore)
        #expect(machine.readRequested() == .read)
    }

    @Test func demandWithoutAHeldReadReadsNothingButRestartsTheReadTimeout() {
        var machine = Self.streaming()
        machine.consumerIsBehind()
        #expect(machine.consumerDemandsMore(exchange: 1, now: Self.at(50)) == .none)
        #expect(machine.lastRead == Self.at(50))
        // Demand while not behind changes nothing.
        #expect(machine.consumerDemandsMore(exchange: 1, now: Self.at(90)) == .none)
        #expect(machine.lastRead == Self.at(50))
    }

    @Test func beingBehindMattersOnlyWhileStreaming() {
        var machine = Self.sent()
        machine.consumerIsBehind()
        #expect(machine.consumerWantsMore)
    }

    @Test func aNewExchangeStartsWithAConsumerThatWantsMore() {
        var machine = Self.streaming()
        machine.consumerIsBehind()
        _ = machine.endReceived()
        #expect(machine.consumerWantsMore)
        _ = machine.executeRequest(headTimeout: Self.headTimeout, reused: true, isActive: true, now: Self.at(5))
        #expect(machine.readRequested() == .read)
    }
}
