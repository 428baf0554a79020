import Foundation
import HTTPTypes
import Hummingbird
import PerimeterAdminModels
import PerimeterCore
import PerimeterProxy
import PerimeterStorage

/// `/admin/v1/session`: the console's sign-in. `POST` exchanges an admin or viewer token (in the JSON
/// body, never in a URL) for a session cookie; `GET` says who is signed in and hands the CSRF token
/// back to a reloaded page; `DELETE` signs out, ending the session on the server.
package struct SessionRoutes: Sendable {
    let sessions: ConsoleSessions
    let authority: AdminAuthority
    let audit: AdminAudit

    package init(sessions: ConsoleSessions, authority: AdminAuthority, audit: AdminAudit) {
        self.sessions = sessions
        self.authority = authority
        self.audit = audit
    }

    struct SessionView: Encodable {
        var adminID: String
        var name: String
        var role: String
        /// For a session only: what its writes carry in `X-CSRF-Token`.
        var csrfToken: String?
        var expiresAt: String?
        var idleTimeoutSeconds: Int

        enum CodingKeys: String, CodingKey {
            case adminID = "admin_id", name, role, csrfToken = "csrf_token", expiresAt = "expires_at",
                idleTimeoutSeconds = "idle_timeout_seconds"
        }
    }

    /// `POST` is open (it is the sign-in); `GET` and `DELETE` go through the admin authentication.
    package func register(open: RouterGroup<GatewayContext>, authenticated: RouterGroup<GatewayContext>) {
        open.post("session") { request, context in try await signIn(request, context: context) }
        authenticated.get("session") { request, context in
            guard let admin = context.admin else { throw GatewayError.unauthorizedAdmin }
            let found = ConsoleSessions.cookie(in: request).flatMap { sessions.find(cookie: $0) }
            return try AdminRoutes.json(view(admin, session: context.viaConsole ? found : nil))
        }
        authenticated.delete("session") { request, context in
            // A Bearer token has no session to end (it is revoked with DELETE /admin/v1/admins/{id}).
            guard context.viaConsole, let cookie = ConsoleSessions.cookie(in: request) else { return Response(status: .noContent) }
            sessions.close(cookie: cookie)
            try await audit.record("session.end", target: context.admin?.id, request: request, context: context)
            var response = Response(status: .noContent)
            response.setCookie(sessions.clearCookie(secure: isSecure(request, context: context)))
            return response
        }
    }

    private func signIn(_ request: Request, context: GatewayContext) async throws -> Response {
        struct SignIn: Decodable {
            var token: String
            enum CodingKeys: String, CodingKey, CaseIterable { case token }
            init(from decoder: any Decoder) throws {
                try decoder.refuseUnknownKeys(of: CodingKeys.self)
                token = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .token)
            }
        }
        // JSON only: a cross-site HTML form cannot send this content type, so it cannot sign a
        // browser in to the attacker's own session.
        guard let type = request.headers[.contentType], type.lowercased().hasPrefix("application/json") else {
            throw GatewayError.invalidRequest("Sign in with a JSON body {\"token\": \"...\"} and Content-Type: application/json.")
        }
        let input = try await AdminRoutes.decode(SignIn.self, from: request, expecting: "'token'", limit: 4096)
        guard let admin = authority.authenticate(input.token) else {
            let address = audit.clientAddress.resolve(socket: context.clientIP, headers: request.headers) ?? "-"
            context.logger.warning("console sign-in refused", metadata: ["perimeter.client.address": "\(address)"])
            throw GatewayError.unauthorizedAdmin
        }
        let (cookie, found) = sessions.open(for: admin)
        var context = context
        context.admin = admin
        context.viaConsole = true
        try await audit.record(
            "session.start", target: admin.id, details: ["role": .text(admin.role.rawValue)], request: request, context: context)
        var response = try AdminRoutes.json(view(admin, session: found), status: .created)
        response.headers[.cacheControl] = "no-store"
        response.setCookie(sessions.setCookie(cookie, secure: isSecure(request, context: context)))
        return response
    }

    private func view(_ admin: AdminToken, session: ConsoleSessions.Found?) -> SessionView {
        SessionView(
            adminID: admin.id, name: admin.name, role: admin.role.rawValue, csrfToken: session?.csrfToken,
            expiresAt: session.map { Timestamp.format($0.expires) }, idleTimeoutSeconds: Int(sessions.settings.sessionIdle))
    }

    private func isSecure(_ request: Request, context: GatewayContext) -> Bool {
        switch sessions.settings.secureCookie {
        case .always: true
        case .never: false
        case .auto: audit.clientAddress.cameOverTLS(socket: context.clientIP, headers: request.headers)
        }
    }
}
