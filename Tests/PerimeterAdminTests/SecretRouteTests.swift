import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PerimeterCore
import PerimeterGatewayTesting
import PerimeterSecrets
import Testing

@testable import PerimeterAdmin

@Suite struct SecretRouteTests {
    let chat = #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#
    let message = #"{"model":"claude-haiku-4-5","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}"#

    /// A gateway whose two providers read their key from the built-in store, not yet put.
    func gateway(_ upstream: ScriptedUpstream) async throws -> some ApplicationProtocol {
        try await TestGateway.make(upstream: upstream) { configuration in
            for index in configuration.providers.indices {
                configuration.providers[index].apiKey = SecretReference(scheme: "store", path: "provider-key")
            }
        }
    }

    @Test func aStoreSecretPutThroughTheAdminAPIIsUsedFromTheNextRequest() async throws {
        let upstream = ScriptedUpstream(.init(chunks: [#"{"id":"x","object":"chat.completion","choices":[]}"#]))
        let app = try await gateway(upstream)
        try await app.test(.router) { client in
            let (_, key) = try await TestGateway.createKey(client)
            // Not put yet: the caller's own error shape, 502 secret_unavailable; /readyz names the secret.
            try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: [.authorization: "Bearer \(key)"], body: ByteBuffer(string: chat)
            ) { response in
                #expect(response.status == .badGateway)
                let error = try #require(try TestGateway.json(response.body)["error"] as? [String: Any])
                #expect(error["code"] as? String == "secret_unavailable")
            }
            try await client.execute(
                uri: "/v1/messages", method: .post, headers: [HTTPField.Name("x-api-key")!: key], body: ByteBuffer(string: message)
            ) { response in
                #expect(response.status == .badGateway)
                let body = try TestGateway.json(response.body)
                #expect(body["type"] as? String == "error")
            }
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                let checks = try #require(try TestGateway.json(response.body)["checks"] as? [String: String])
                #expect(checks["provider:openai"]?.contains("store:provider-key") == true)
            }

            try await put(client, "/admin/v1/secrets/provider-key", .put, value: "sk-first-1234567890", expect: .created)
            try await put(client, "/admin/v1/secrets/provider-key", .put, value: "sk-again", expect: .conflict)
            try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: [.authorization: "Bearer \(key)"], body: ByteBuffer(string: chat)
            ) { response in
                #expect(response.status == .ok)
            }
            #expect(upstream.requests.withLock { $0.last?.headers[.authorization] } == "Bearer sk-first-1234567890")

            try await put(client, "/admin/v1/secrets/provider-key/rotate", .post, value: "sk-second-1234567890", expect: .ok)
            try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: [.authorization: "Bearer \(key)"], body: ByteBuffer(string: chat)
            ) { response in
                #expect(response.status == .ok)
            }
            #expect(upstream.requests.withLock { $0.last?.headers[.authorization] } == "Bearer sk-second-1234567890")

            // Listings and reloads show versions and where a secret is used, never a value.
            try await client.execute(uri: "/admin/v1/secrets", method: .get, headers: TestGateway.adminHeaders) { response in
                let text = String(buffer: response.body)
                #expect(!text.contains("sk-second") && !text.contains("sk-first"))
                let row = try #require((try TestGateway.json(response.body)["data"] as? [[String: Any]])?.first)
                #expect(row["version"] as? Int == 2)
                #expect(row["versions"] as? Int == 2)
                #expect(row["used_by"] as? [String] == ["provider:openai", "provider:anthropic"])
            }
            try await client.execute(uri: "/admin/v1/secrets/reload", method: .post, headers: TestGateway.adminHeaders) { response in
                #expect(response.status == .ok)
                let rows = try #require(try TestGateway.json(response.body)["data"] as? [[String: Any]])
                #expect(rows.map { $0["status"] as? String } == ["ok"])
                #expect(rows.first?["version"] as? String == "2")
            }

            try await client.execute(
                uri: "/admin/v1/secrets/provider-key", method: .delete, headers: TestGateway.adminHeaders
            ) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: [.authorization: "Bearer \(key)"], body: ByteBuffer(string: chat)
            ) { response in
                #expect(response.status == .badGateway)
            }
        }
    }

    @Test func badSecretWritesAreRefusedClearly() async throws {
        let app = try await gateway(ScriptedUpstream(.init()))
        try await app.test(.router) { client in
            try await put(client, "/admin/v1/secrets/bad%20name", .put, value: "x", expect: .badRequest)
            try await put(client, "/admin/v1/secrets/absent/rotate", .post, value: "x", expect: .notFound)
            try await put(client, "/admin/v1/secrets/empty", .put, value: "  ", expect: .badRequest)
            try await client.execute(
                uri: "/admin/v1/secrets/x", method: .put, headers: TestGateway.adminHeaders, body: ByteBuffer(string: #"{"val":1}"#)
            ) { response in
                #expect(response.status == .badRequest)
            }
            try await client.execute(
                uri: "/admin/v1/secrets/x", method: .put, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"value":"sk"}"#)
            ) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: "/admin/v1/secrets/absent", method: .delete, headers: TestGateway.adminHeaders) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    func put(
        _ client: some TestClientProtocol, _ uri: String, _ method: HTTPRequest.Method, value: String, expect status: HTTPResponse.Status
    ) async throws {
        let body = try JSONSerialization.data(withJSONObject: ["value": value])
        try await client.execute(uri: uri, method: method, headers: TestGateway.adminHeaders, body: ByteBuffer(bytes: body)) { response in
            #expect(response.status == status, "\(method) \(uri): \(String(buffer: response.body))")
            #expect(!String(buffer: response.body).contains(value) || value.count < 4)
        }
    }
}
