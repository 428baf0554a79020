import Foundation
import PerimeterCore

/// The console's signed-in sessions, as plain state: no clock, no randomness, no lock. The caller
/// brings the time and the identifiers; ``ConsoleSessions`` wraps it for concurrent use.
///
/// A session is known by the digest of its cookie value only, so a copy of this state (a heap dump,
/// a log line) never holds a value that signs anyone in. Each session ends when it goes unused for
/// `idle`, or at `lifetime` after sign-in however busy it is, or when signed out. At `capacity` the
/// session used least recently makes room for a new one.
package struct SessionBook: Sendable {
    package struct Session: Sendable, Hashable {
        /// The admin token's digest: the identity is looked up again on each use, so a revoked token
        /// ends its sessions at once.
        package var admin: KeyDigest
        package var csrfToken: String
        package var created: Date
        package var lastUsed: Date
    }

    package enum Check: Sendable, Hashable {
        case valid(Session)
        case unknown
        /// Ended for idleness or age; forgotten now.
        case expired
    }

    package let idle: TimeInterval
    package let lifetime: TimeInterval
    package let capacity: Int
    private(set) var sessions: [KeyDigest: Session] = [:]

    package init(idle: TimeInterval, lifetime: TimeInterval, capacity: Int = 10_000) {
        precondition(idle > 0 && lifetime > 0 && capacity > 0)
        self.idle = idle
        self.lifetime = lifetime
        self.capacity = capacity
    }

    package var count: Int { sessions.count }

    /// Starts a session for `admin`, known from now on by `id`.
    package mutating func open(id: KeyDigest, admin: KeyDigest, csrfToken: String, now: Date) -> Session {
        if sessions.count >= capacity { purge(now: now) }
        if sessions.count >= capacity, let oldest = sessions.min(by: { $0.value.lastUsed < $1.value.lastUsed })?.key {
            sessions[oldest] = nil
        }
        let session = Session(admin: admin, csrfToken: csrfToken, created: now, lastUsed: now)
        sessions[id] = session
        return session
    }

    /// The session `id` names, marked used now unless `touch` is false (a check made for an open
    /// stream, which must not keep an idle session alive); an expired one is forgotten.
    package mutating func check(id: KeyDigest, now: Date, touch: Bool = true) -> Check {
        guard var session = sessions[id] else { return .unknown }
        guard !isExpired(session, now: now) else {
            sessions[id] = nil
            return .expired
        }
        guard touch else { return .valid(session) }
        // A clock that stepped back never makes a session younger.
        session.lastUsed = max(session.lastUsed, now)
        sessions[id] = session
        return .valid(session)
    }

    /// When the session ends if unused from now: the earlier of its idle and absolute ends.
    package func expiry(of session: Session) -> Date {
        min(session.lastUsed.addingTimeInterval(idle), session.created.addingTimeInterval(lifetime))
    }

    /// Ends one session; whether it was open.
    @discardableResult
    package mutating func close(id: KeyDigest) -> Bool {
        sessions.removeValue(forKey: id) != nil
    }

    /// Ends every session of one admin identity (its token was revoked).
    package mutating func closeAll(of admin: KeyDigest) {
        sessions = sessions.filter { $0.value.admin != admin }
    }

    /// Forgets every expired session.
    package mutating func purge(now: Date) {
        sessions = sessions.filter { !isExpired($0.value, now: now) }
    }

    private func isExpired(_ session: Session, now: Date) -> Bool {
        // A session from the future (the clock stepped back past its start) counts from its start.
        let age = now.timeIntervalSince(session.created)
        let unused = now.timeIntervalSince(session.lastUsed)
        return age >= lifetime || unused >= idle
    }
}
