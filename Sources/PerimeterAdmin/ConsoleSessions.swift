import Foundation
import HTTPTypes
import Hummingbird
import PerimeterAdminModels
import PerimeterCore
import PerimeterStorage
import Synchronization

/// The console's sessions: an admin or viewer token is exchanged once for a random session cookie
/// (`HttpOnly`, `SameSite=Strict`) and a CSRF token that every state-changing request must echo in
/// `X-CSRF-Token`. Sessions live in this instance's memory; only their digests are kept.
package final class ConsoleSessions: Sendable {
    package static let cookieName = "perimeter_session"
    package static let csrfHeader = HTTPField.Name("x-csrf-token")!

    /// A session found for a request: who, and the CSRF token its writes must carry.
    package struct Found: Sendable {
        package var admin: AdminToken
        package var csrfToken: String
        package var expires: Date
    }

    package let settings: ConsoleSettings
    private let book: Mutex<SessionBook>
    private let authority: AdminAuthority

    package init(settings: ConsoleSettings, authority: AdminAuthority) {
        self.settings = settings
        self.authority = authority
        book = Mutex(SessionBook(idle: settings.sessionIdle, lifetime: settings.sessionLifetime))
    }

    /// Opens a session for `admin`; returns the cookie value (never stored) and the session.
    package func open(for admin: AdminToken, now: Date = Date()) -> (cookie: String, found: Found) {
        let cookie = Base62.random(count: 43)
        let csrf = Base62.random(count: 43)
        let (session, expires) = book.withLock { book in
            let session = book.open(id: KeyDigest(of: cookie), admin: admin.digest, csrfToken: csrf, now: now)
            return (session, book.expiry(of: session))
        }
        return (cookie, Found(admin: admin, csrfToken: session.csrfToken, expires: expires))
    }

    /// The live session `cookie` names, whose admin token is still active; marked used unless `touch` is false.
    package func find(cookie: String, now: Date = Date(), touch: Bool = true) -> Found? {
        // A cookie value of any other shape was never issued here.
        guard cookie.utf8.count == 43, cookie.utf8.allSatisfy(Base62.isBase62) else { return nil }
        let id = KeyDigest(of: cookie)
        let checked = book.withLock { book -> (SessionBook.Session, Date)? in
            guard case .valid(let session) = book.check(id: id, now: now, touch: touch) else { return nil }
            return (session, book.expiry(of: session))
        }
        guard let (session, expires) = checked else { return nil }
        guard let admin = authority.authenticate(digest: session.admin) else {
            // The token was revoked: its sessions end with it.
            book.withLock { $0.closeAll(of: session.admin) }
            return nil
        }
        return Found(admin: admin, csrfToken: session.csrfToken, expires: expires)
    }

    /// Ends the session `cookie` names, server-side.
    @discardableResult
    package func close(cookie: String) -> Bool {
        book.withLock { $0.close(id: KeyDigest(of: cookie)) }
    }

    package var openCount: Int { book.withLock { $0.count } }

    /// The session cookie of a request, if it carries one.
    package static func cookie(in request: Request) -> String? {
        guard let value = request.cookies[cookieName]?.value, !value.isEmpty else { return nil }
        return value
    }

    /// Whether `presented` is the session's CSRF token, compared in time independent of where they differ.
    package static func csrfMatches(_ presented: String?, _ expected: String) -> Bool {
        guard let presented else { return false }
        let left = KeyDigest(of: presented).bytes
        let right = KeyDigest(of: expected).bytes
        var difference: UInt8 = 0
        for index in left.indices { difference |= left[index] ^ right[index] }
        return difference == 0
    }

    /// The `Set-Cookie` for a new session: `Secure` over TLS (see ``ConsoleSettings/SecureCookie``).
    package func setCookie(_ value: String, secure: Bool) -> Cookie {
        Cookie(
            name: Self.cookieName, value: value, maxAge: Int(settings.sessionLifetime), path: "/", secure: secure, httpOnly: true,
            sameSite: .strict)
    }

    /// The `Set-Cookie` that removes the session cookie from the browser.
    package func clearCookie(secure: Bool) -> Cookie {
        Cookie(name: Self.cookieName, value: "", maxAge: 0, path: "/", secure: secure, httpOnly: true, sameSite: .strict)
    }
}
