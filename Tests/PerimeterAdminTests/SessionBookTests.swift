import Foundation
import PerimeterCore
import Testing

@testable import PerimeterAdmin

@Suite struct SessionBookTests {
    let start = Date(timeIntervalSince1970: 1_790_000_000)
    let admin = KeyDigest(of: "prmadm_a")
    let other = KeyDigest(of: "prmadm_b")

    func id(_ name: String) -> KeyDigest { KeyDigest(of: name) }

    @Test func aSessionUnusedForTheIdleTimeEnds() {
        var book = SessionBook(idle: 600, lifetime: 3600)
        _ = book.open(id: id("s"), admin: admin, csrfToken: "c", now: start)
        guard case .valid = book.check(id: id("s"), now: start.addingTimeInterval(599)) else {
            Issue.record("used within the idle time: still valid")
            return
        }
        // Used at 599 s, so idle counts from there.
        guard case .valid = book.check(id: id("s"), now: start.addingTimeInterval(1198)) else {
            Issue.record("each use restarts the idle time")
            return
        }
        #expect({ book.check(id: id("s"), now: start.addingTimeInterval(1798)) }() == .expired)
        #expect({ book.check(id: id("s"), now: start.addingTimeInterval(1799)) }() == .unknown)
        #expect(book.count == 0)
    }

    @Test func aBusySessionStillEndsAtItsLifetime() {
        var book = SessionBook(idle: 600, lifetime: 3600)
        _ = book.open(id: id("s"), admin: admin, csrfToken: "c", now: start)
        for minute in stride(from: 5.0, to: 60, by: 5) {
            let now = start.addingTimeInterval(minute * 60)
            guard case .valid(let session) = book.check(id: id("s"), now: now) else {
                Issue.record("valid at minute \(minute)")
                return
            }
            #expect(book.expiry(of: session) == min(now.addingTimeInterval(600), start.addingTimeInterval(3600)))
        }
        #expect({ book.check(id: id("s"), now: start.addingTimeInterval(3600)) }() == .expired)
    }

    @Test func aClockSteppingBackNeitherEndsNorExtendsASession() {
        var book = SessionBook(idle: 600, lifetime: 3600)
        _ = book.open(id: id("s"), admin: admin, csrfToken: "c", now: start)
        _ = book.check(id: id("s"), now: start.addingTimeInterval(300))
        // The clock steps back 10 minutes: still valid, and the last use is not moved back.
        guard case .valid(let session) = book.check(id: id("s"), now: start.addingTimeInterval(-300)) else {
            Issue.record("a clock stepping back does not end the session")
            return
        }
        #expect(session.lastUsed == start.addingTimeInterval(300))
        #expect({ book.check(id: id("s"), now: start.addingTimeInterval(900)) }() == .expired)
    }

    @Test func signOutAndRevocationEndSessions() {
        var book = SessionBook(idle: 600, lifetime: 3600)
        _ = book.open(id: id("a1"), admin: admin, csrfToken: "c", now: start)
        _ = book.open(id: id("a2"), admin: admin, csrfToken: "c", now: start)
        _ = book.open(id: id("b1"), admin: other, csrfToken: "c", now: start)
        let first = book.close(id: id("a1"))
        let second = book.close(id: id("a1"))
        #expect(first && !second)
        #expect({ book.check(id: id("a1"), now: start) }() == .unknown)
        book.closeAll(of: admin)
        #expect({ book.check(id: id("a2"), now: start) }() == .unknown)
        guard case .valid = book.check(id: id("b1"), now: start) else {
            Issue.record("another admin's session stays")
            return
        }
    }

    @Test func atCapacityTheLeastRecentlyUsedSessionMakesRoom() {
        var book = SessionBook(idle: 600, lifetime: 3600, capacity: 3)
        for (offset, name) in ["s1", "s2", "s3"].enumerated() {
            _ = book.open(id: id(name), admin: admin, csrfToken: name, now: start.addingTimeInterval(Double(offset)))
        }
        _ = book.check(id: id("s1"), now: start.addingTimeInterval(10))
        _ = book.open(id: id("s4"), admin: admin, csrfToken: "s4", now: start.addingTimeInterval(11))
        #expect(book.count == 3)
        #expect({ book.check(id: id("s2"), now: start.addingTimeInterval(12)) }() == .unknown)
        for name in ["s1", "s3", "s4"] {
            guard case .valid(let session) = book.check(id: id(name), now: start.addingTimeInterval(12)) else {
                Issue.record("\(name) stays")
                continue
            }
            #expect(session.csrfToken == name)
        }
        // Expired sessions go first, before any live one: all three are idle past 600 s here.
        _ = book.open(id: id("s5"), admin: admin, csrfToken: "s5", now: start.addingTimeInterval(700))
        #expect(book.count == 1)
    }
}
