import Foundation
import PerimeterCore
import Testing

@testable import PerimeterSecrets

/// The token renewal state machine, on a clock that is only ever a value.
@Suite struct AccessTokenStateTests {
    let start = Date(timeIntervalSince1970: 1_790_000_000)
    struct Boom: Error, Sendable {}

    func used(_ action: AccessTokenState.Action) -> String? {
        if case .use(let token) = action { return token.revealed }
        return nil
    }

    func fetches(_ action: AccessTokenState.Action) -> Bool {
        if case .fetch = action { return true }
        return false
    }

    func fails(_ action: AccessTokenState.Action) -> Bool {
        if case .fail = action { return true }
        return false
    }

    @Test func aNewStateFetchesAndATokenServesUntilFiveMinutesBeforeExpiry() {
        var state = AccessTokenState()
        #expect(fetches(state.next(at: start)))
        state.received(Secret("t1"), lifetime: 3600, requestedAt: start)
        #expect(used(state.next(at: start.addingTimeInterval(3299))) == "t1")
        #expect(fetches(state.next(at: start.addingTimeInterval(3300))))
    }

    @Test func aShortTokenIsRenewedHalfwayAndAZeroLifetimeAtOnce() {
        var state = AccessTokenState()
        state.received(Secret("t1"), lifetime: 60, requestedAt: start)
        #expect(used(state.next(at: start.addingTimeInterval(29))) == "t1")
        #expect(fetches(state.next(at: start.addingTimeInterval(30))))
        state.received(Secret("t2"), lifetime: -5, requestedAt: start)
        #expect(fetches(state.next(at: start)))
    }

    @Test func aFailedRenewalServesTheValidTokenAndBacksOffDoublingUpToAMinute() {
        var state = AccessTokenState()
        state.received(Secret("t1"), lifetime: 3600, requestedAt: start)
        var now = start.addingTimeInterval(3400)
        state.failed(Boom(), at: now)
        #expect(used(state.next(at: now.addingTimeInterval(4.9))) == "t1")
        #expect(fetches(state.next(at: now.addingTimeInterval(5))))
        now = now.addingTimeInterval(5)
        state.failed(Boom(), at: now)
        #expect(used(state.next(at: now.addingTimeInterval(9.9))) == "t1")
        #expect(fetches(state.next(at: now.addingTimeInterval(10))))
        for _ in 0..<6 { state.failed(Boom(), at: now) }
        #expect(state.consecutiveFailures == 8)
        #expect(!fetches(state.next(at: now.addingTimeInterval(59))))
        #expect(fetches(state.next(at: now.addingTimeInterval(60))))
        // Past expiry, during the backoff, the failure is the caller's.
        state.failed(Boom(), at: start.addingTimeInterval(3590))
        #expect(fails(state.next(at: start.addingTimeInterval(3601))))
        // A success clears the backoff.
        state.received(Secret("t2"), lifetime: 3600, requestedAt: start.addingTimeInterval(3602))
        #expect(state.consecutiveFailures == 0)
        #expect(used(state.next(at: start.addingTimeInterval(3603))) == "t2")
    }

    @Test func withNoTokenARefusalFailsUntilTheBackoffEnds() {
        var state = AccessTokenState()
        state.failed(Boom(), at: start)
        #expect(fails(state.next(at: start.addingTimeInterval(1))))
        #expect(fetches(state.next(at: start.addingTimeInterval(5))))
    }

    @Test func aClockThatStepsBackMakesTheTokensAgeUnknown() {
        var state = AccessTokenState()
        state.received(Secret("t1"), lifetime: 3600, requestedAt: start)
        // A small step back (NTP slewing) changes nothing.
        #expect(used(state.next(at: start.addingTimeInterval(-30))) == "t1")
        // A large one asks for a new token, and the old one is not served if that fails.
        let back = start.addingTimeInterval(-600)
        #expect(fetches(state.next(at: back)))
        state.failed(Boom(), at: back)
        #expect(fails(state.next(at: back.addingTimeInterval(1))))
    }

    @Test func aRefusedTokenIsDroppedUnlessAlreadyReplaced() {
        var state = AccessTokenState()
        state.received(Secret("t1"), lifetime: 3600, requestedAt: start)
        state.refused(Secret("t0"))
        #expect(used(state.next(at: start)) == "t1")
        state.refused(Secret("t1"))
        #expect(fetches(state.next(at: start)))
    }

    @Test func theLifetimeComesFromExpiresInNotTheSkewedAbsoluteExpiry() throws {
        // The local clock is an hour ahead: expires_on is already past by it, expires_in is not.
        let now = Date(timeIntervalSince1970: 1_790_003_600)
        let body = #"{"access_token":"t","expires_in":"3599","expires_on":"1790003599","token_type":"Bearer"}"#
        let (_, lifetime) = try EntraGrant.token(from: response(200, body), requestedAt: now)
        #expect(lifetime == 3599)
        let onlyAbsolute = #"{"access_token":"t","expires_on":1790004600}"#
        #expect(try EntraGrant.token(from: response(200, onlyAbsolute), requestedAt: now).1 == 1000)
    }
}
