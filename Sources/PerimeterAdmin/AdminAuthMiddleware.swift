import HTTPTypes
import Hummingbird
import PerimeterCore
import PerimeterProxy
import PerimeterStorage

/// Lets through requests with a valid admin token, or a console session; a `viewer` may only read.
///
/// A Bearer token wins when a request carries both. A session's requests that change anything must
/// carry its CSRF token in `X-CSRF-Token`: a cross-site form or script can make the browser send the
/// cookie, never that header. The session's own sign-out is the one write a viewer may make.
struct AdminAuthMiddleware: RouterMiddleware {
    typealias Context = GatewayContext
    let authority: AdminAuthority
    let sessions: ConsoleSessions?

    func handle(_ request: Request, context: GatewayContext, next: (Request, GatewayContext) async throws -> Response) async throws
        -> Response
    {
        var context = context
        let admin: AdminToken
        if let header = request.headers[.authorization] {
            guard let token = authority.authenticate(BearerToken.parse(header)) else { throw GatewayError.unauthorizedAdmin }
            admin = token
        } else if let sessions, let cookie = ConsoleSessions.cookie(in: request) {
            guard let found = sessions.find(cookie: cookie) else { throw GatewayError.unauthorizedAdmin }
            if !Self.isRead(request.method), !ConsoleSessions.csrfMatches(request.headers[ConsoleSessions.csrfHeader], found.csrfToken) {
                throw GatewayError.forbidden("This request needs the session's CSRF token in the X-CSRF-Token header.")
            }
            admin = found.admin
            context.viaConsole = true
        } else {
            throw GatewayError.unauthorizedAdmin
        }
        if admin.role == .viewer, !Self.isRead(request.method), !Self.isSignOut(request) {
            throw GatewayError.forbidden("This admin token has the viewer role and may only read.")
        }
        context.admin = admin
        context.logger[metadataKey: "perimeter.admin"] = .string(admin.name)
        return try await next(request, context)
    }

    static func isRead(_ method: HTTPRequest.Method) -> Bool { method == .get || method == .head }

    static func isSignOut(_ request: Request) -> Bool {
        request.method == .delete && request.uri.path == "/admin/v1/session"
    }
}
