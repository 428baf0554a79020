import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PerimeterCore
import PerimeterGatewayTesting
import Testing

@testable import PerimeterAdmin

/// The console's sign-in through the admin API: cookie attributes, CSRF on every write, viewer
/// limits, sign-out and revocation ending sessions on the server, and audit entries naming who.
@Suite struct ConsoleSessionTests {
    struct Signed {
        var cookie: String
        var setCookie: String
        var csrf: String
        var headers: HTTPFields { [.cookie: "\(ConsoleSessions.cookieName)=\(cookie)", .contentType: "application/json"] }
        var writeHeaders: HTTPFields {
            var headers = headers
            headers[ConsoleSessions.csrfHeader] = csrf
            return headers
        }
    }

    static func signIn(_ client: some TestClientProtocol, token: String, headers extra: HTTPFields = [:]) async throws -> Signed {
        var headers: HTTPFields = [.contentType: "application/json"]
        headers.append(contentsOf: extra)
        return try await client.execute(
            uri: "/admin/v1/session", method: .post, headers: headers, body: ByteBuffer(string: #"{"token":"\#(token)"}"#)
        ) { response in
            #expect(response.status == .created)
            let setCookie = try #require(response.headers[.setCookie])
            let value = try #require(setCookie.split(separator: ";").first?.split(separator: "=", maxSplits: 1).last)
            let body = try TestGateway.json(response.body)
            #expect(body["role"] != nil && body["name"] != nil)
            #expect(!String(buffer: response.body).contains(token))
            return Signed(cookie: String(value), setCookie: setCookie, csrf: try #require(body["csrf_token"] as? String))
        }
    }

    @Test func aSignedInSessionReadsAndWritesOnlyWithItsCSRFToken() async throws {
        let app = try await TestGateway.make(demo: true)
        try await app.test(.router) { client in
            let session = try await Self.signIn(client, token: TestGateway.adminToken)
            let attributes = session.setCookie.lowercased()
            #expect(attributes.contains("httponly") && attributes.contains("samesite=strict") && attributes.contains("path=/"))
            #expect(!attributes.contains("secure"), "plain HTTP without a trusted TLS proxy: no Secure")
            #expect(session.cookie.count == 43 && session.csrf.count == 43 && session.cookie != session.csrf)

            try await client.execute(uri: "/admin/v1/keys", method: .get, headers: session.headers) { response in
                #expect(response.status == .ok)
            }
            let echoed = try await client.execute(uri: "/admin/v1/session", method: .get, headers: session.headers) { response in
                try TestGateway.json(response.body)["csrf_token"] as? String
            }
            #expect(echoed == session.csrf)
            let body = ByteBuffer(string: #"{"name":"from-console","env":"prod"}"#)
            // A cross-site form or script gets the browser to send the cookie, never the header.
            try await client.execute(uri: "/admin/v1/keys", method: .post, headers: session.headers, body: body) { response in
                #expect(response.status == .forbidden)
                #expect(String(buffer: response.body).contains("CSRF"))
            }
            var wrong = session.writeHeaders
            wrong[ConsoleSessions.csrfHeader] = String(session.csrf.reversed())
            try await client.execute(uri: "/admin/v1/keys", method: .post, headers: wrong, body: body) { response in
                #expect(response.status == .forbidden)
            }
            let id = try await client.execute(uri: "/admin/v1/keys", method: .post, headers: session.writeHeaders, body: body) { response in
                #expect(response.status == .created)
                return try #require(try TestGateway.json(response.body)["id"] as? String)
            }
            try await client.execute(uri: "/admin/v1/audit", method: .get, headers: TestGateway.adminHeaders) { response in
                let entries = try #require(try TestGateway.json(response.body)["data"] as? [[String: Any]])
                let create = try #require(entries.first { $0["target"] as? String == id })
                #expect(create["actor"] as? String == "PERIMETER_ADMIN_TOKEN")
                #expect((create["details"] as? String)?.contains(#""via":"console""#) == true)
                #expect(entries.contains { $0["action"] as? String == "session.start" })
                #expect(!String(buffer: response.body).contains(session.cookie) && !String(buffer: response.body).contains(session.csrf))
            }
            // Sign-out ends the session on the server: the same cookie no longer signs anything in.
            try await client.execute(uri: "/admin/v1/session", method: .delete, headers: session.headers) { response in
                #expect(response.status == .forbidden, "sign-out is a write: it needs the CSRF token too")
            }
            try await client.execute(uri: "/admin/v1/session", method: .delete, headers: session.writeHeaders) { response in
                #expect(response.status == .noContent)
                #expect(response.headers[.setCookie]?.contains("Max-Age=0") == true)
            }
            try await client.execute(uri: "/admin/v1/keys", method: .get, headers: session.headers) { response in
                #expect(response.status == .unauthorized)
            }
        }
    }

    @Test func aViewerSessionReadsSignsOutAndWritesNothing() async throws {
        let app = try await TestGateway.make(demo: true)
        try await app.test(.router) { client in
            let viewer = try await client.execute(
                uri: "/admin/v1/admins", method: .post, headers: TestGateway.adminHeaders,
                body: ByteBuffer(string: #"{"name":"auditor","role":"viewer"}"#)
            ) { response in try #require(try TestGateway.json(response.body)["token"] as? String) }
            let session = try await Self.signIn(client, token: viewer)
            try await client.execute(uri: "/admin/v1/inventory", method: .get, headers: session.headers) { response in
                #expect(response.status == .ok)
            }
            for (method, uri) in [(HTTPRequest.Method.post, "/admin/v1/keys"), (.put, "/admin/v1/secrets/x"), (.post, "/admin/v1/admins")] {
                try await client.execute(uri: uri, method: method, headers: session.writeHeaders, body: ByteBuffer(string: "{}")) {
                    response in
                    #expect(response.status == .forbidden, "\(method) \(uri)")
                }
            }
            try await client.execute(uri: "/admin/v1/session", method: .delete, headers: session.writeHeaders) { response in
                #expect(response.status == .noContent)
            }
        }
    }

    @Test func revokingTheTokenEndsItsSessions() async throws {
        let app = try await TestGateway.make(demo: true)
        try await app.test(.router) { client in
            let (adminID, token) = try await client.execute(
                uri: "/admin/v1/admins", method: .post, headers: TestGateway.adminHeaders,
                body: ByteBuffer(string: #"{"name":"ops","role":"admin"}"#)
            ) { response in
                let body = try TestGateway.json(response.body)
                return (try #require(body["id"] as? String), try #require(body["token"] as? String))
            }
            let session = try await Self.signIn(client, token: token)
            try await client.execute(uri: "/admin/v1/keys", method: .get, headers: session.headers) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/admin/v1/admins/\(adminID)", method: .delete, headers: TestGateway.adminHeaders) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/admin/v1/keys", method: .get, headers: session.headers) { response in
                #expect(response.status == .unauthorized)
            }
        }
    }

    @Test func signInRefusesWrongTokensFormsAndForgedCookies() async throws {
        let app = try await TestGateway.make(demo: true)
        try await app.test(.router) { client in
            try await client.execute(
                uri: "/admin/v1/session", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"token":"prmadm_wrong"}"#)
            ) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.setCookie] == nil)
            }
            // What a cross-site HTML form can send.
            try await client.execute(
                uri: "/admin/v1/session", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "token=\(TestGateway.adminToken)")
            ) { response in #expect(response.status == .badRequest) }
            for forged in ["", "x", String(repeating: "A", count: 43), "../../etc/passwd", String(repeating: "é", count: 43)] {
                try await client.execute(
                    uri: "/admin/v1/keys", method: .get, headers: [.cookie: "\(ConsoleSessions.cookieName)=\(forged)"]
                ) { response in #expect(response.status == .unauthorized, "cookie \(forged)") }
            }
            // A Bearer token wins over a cookie, and a wrong one is not rescued by a good session.
            let session = try await Self.signIn(client, token: TestGateway.adminToken)
            var both = session.headers
            both[.authorization] = "Bearer prmadm_wrong"
            try await client.execute(uri: "/admin/v1/keys", method: .get, headers: both) { response in
                #expect(response.status == .unauthorized)
            }
        }
    }

    @Test func theCookieIsSecureBehindATrustedTLSProxyOrWhenConfigured() async throws {
        let proxied = try await TestGateway.make(demo: true) { $0.trustedProxies = [CIDR("127.0.0.0/8")!] }
        try await proxied.test(.live) { client in
            let plain = try await Self.signIn(client, token: TestGateway.adminToken)
            #expect(!plain.setCookie.contains("Secure"))
            let tls = try await Self.signIn(client, token: TestGateway.adminToken, headers: [HTTPField.Name("x-forwarded-proto")!: "https"])
            #expect(tls.setCookie.contains("Secure"))
        }
        // From an address that is not a trusted proxy, the header is not believed.
        let untrusted = try await TestGateway.make(demo: true)
        try await untrusted.test(.live) { client in
            let forged = try await Self.signIn(
                client, token: TestGateway.adminToken, headers: [HTTPField.Name("x-forwarded-proto")!: "https"])
            #expect(!forged.setCookie.contains("Secure"))
        }
        let always = try await TestGateway.make(demo: true) { $0.console.secureCookie = .always }
        try await always.test(.router) { client in
            let secure = try await Self.signIn(client, token: TestGateway.adminToken)
            #expect(secure.setCookie.contains("Secure"))
        }
    }
}
