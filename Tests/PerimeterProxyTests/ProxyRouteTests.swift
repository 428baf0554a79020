import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PerimeterCore
import PerimeterGatewayTesting
import PerimeterUpstream
import Testing

@testable import PerimeterProxy

@Suite struct ProxyRouteTests {
    let requestID = HTTPField.Name("x-perimeter-request-id")!

    @Test func missingAndUnknownKeysGet401InTheRouteFamilysShape() async throws {
        let app = try await TestGateway.make(demo: true)
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: ByteBuffer(string: "{}")) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[requestID]?.hasPrefix("req_") == true)
                let error = try #require(try TestGateway.json(response.body)["error"] as? [String: Any])
                #expect(error["code"] as? String == "invalid_api_key")
            }
            let forged = TokenFormat.makeVirtualKey(environment: "dev").revealed
            try await client.execute(
                uri: "/v1/messages", method: .post, headers: [HTTPField.Name("x-api-key")!: forged], body: ByteBuffer(string: "{}")
            ) { response in
                #expect(response.status == .unauthorized)
                let body = try TestGateway.json(response.body)
                #expect(body["type"] as? String == "error")
                #expect((body["error"] as? [String: Any])?["type"] as? String == "authentication_error")
            }
        }
    }

    @Test func aDemoCallIsAnsweredAndLoggedWithTokensAndCost() async throws {
        let app = try await TestGateway.make(demo: true)
        try await app.test(.router) { client in
            let (id, key) = try await TestGateway.createKey(client)
            let requestID = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: [.authorization: "Bearer \(key)"],
                body: ByteBuffer(string: #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#)
            ) { response in
                #expect(response.status == .ok)
                let body = try TestGateway.json(response.body)
                #expect(body["object"] as? String == "chat.completion")
                return try #require(response.headers[self.requestID])
            }
            let call = try #require(try await TestGateway.calls(client, expecting: 1).first)
            #expect(call["id"] as? String == requestID)
            #expect(call["key_id"] as? String == id)
            #expect(call["owner"] as? String == "team-a")
            #expect(call["outcome"] as? String == "ok")
            #expect(call["provider"] as? String == "demo-openai")
            #expect((call["output_tokens"] as? Int ?? 0) > 0)
            #expect((call["cost_usd"] as? Double ?? 0) > 0)
        }
    }

    @Test func aStreamedChatIsMeteredWithoutShowingTheUsageChunk() async throws {
        let app = try await TestGateway.make(demo: true)
        try await app.test(.router) { client in
            let (_, key) = try await TestGateway.createKey(client)
            try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: [.authorization: "Bearer \(key)"],
                body: ByteBuffer(string: #"{"model":"gpt-4o-mini","stream":true,"messages":[]}"#)
            ) { response in
                let text = String(buffer: response.body)
                #expect(response.headers[.contentType] == "text/event-stream")
                #expect(text.hasSuffix("data: [DONE]\n\n"))
                #expect(!text.contains(#""choices":[]"#))
                #expect(!text.contains("prompt_tokens"))
            }
            let call = try #require(try await TestGateway.calls(client, expecting: 1).first)
            #expect(call["stream"] as? Bool == true)
            #expect((call["input_tokens"] as? Int ?? 0) > 0)
            #expect((call["output_tokens"] as? Int ?? 0) > 0)
        }
    }

    @Test func revokedKeysAreRefusedAtOnce() async throws {
        let app = try await TestGateway.make(demo: true)
        try await app.test(.router) { client in
            let (id, key) = try await TestGateway.createKey(client)
            try await client.execute(uri: "/admin/v1/keys/\(id)", method: .delete, headers: TestGateway.adminHeaders) { response in
                #expect(response.status == .ok)
                let body = try TestGateway.json(response.body)
                #expect(body["status"] as? String == "revoked")
            }
            try await client.execute(
                uri: "/v1/messages", method: .post, headers: [HTTPField.Name("x-api-key")!: key],
                body: ByteBuffer(string: #"{"model":"claude-haiku-4-5","max_tokens":5,"messages":[]}"#)
            ) { response in
                #expect(response.status == .unauthorized)
                #expect(String(buffer: response.body).contains("revoked"))
            }
            let call = try #require(try await TestGateway.calls(client, expecting: 1).first)
            #expect(call["outcome"] as? String == "denied")
            #expect(call["error_code"] as? String == "key_revoked")
            #expect(call["key_id"] as? String == id)
        }
    }

    @Test func badBodiesAreRefusedWithClearErrors() async throws {
        let app = try await TestGateway.make(demo: true) { $0.maximumBodySize = 200 }
        try await app.test(.router) { client in
            let (_, key) = try await TestGateway.createKey(client)
            let auth: HTTPFields = [.authorization: "Bearer \(key)"]
            let cases: [(String, String, HTTPResponse.Status, String)] = [
                ("/v1/chat/completions", #"{"model": "gpt-4o""#, .badRequest, "invalid_json"),
                ("/v1/chat/completions", #"{"messages":[]}"#, .badRequest, "missing_model"),
                ("/v1/embeddings", #"[1,2]"#, .badRequest, "invalid_json"),
                (
                    "/v1/chat/completions", #"{"model":"gpt-4o","pad":""# + String(repeating: "x", count: 300) + #""}"#, .contentTooLarge,
                    "request_too_large"
                ),
            ]
            for (path, body, status, code) in cases {
                try await client.execute(uri: path, method: .post, headers: auth, body: ByteBuffer(string: body)) { response in
                    #expect(response.status == status, "\(body.prefix(40))")
                    let error = try TestGateway.json(response.body)["error"] as? [String: Any]
                    #expect(error?["code"] as? String == code)
                }
            }
            try await client.execute(uri: "/v1/messages", method: .post, headers: auth, body: ByteBuffer(string: "nope")) { response in
                #expect(response.status == .badRequest)
                let body = try TestGateway.json(response.body)
                #expect((body["error"] as? [String: Any])?["type"] as? String == "invalid_request_error")
            }
        }
    }

    @Test func modelsNoProviderServesGet404() async throws {
        let upstream = ScriptedUpstream(.init(chunks: ["{}"]))
        let app = try await TestGateway.make(upstream: upstream)
        try await app.test(.router) { client in
            let (_, key) = try await TestGateway.createKey(client)
            try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: [.authorization: "Bearer \(key)"],
                body: ByteBuffer(string: #"{"model":"claude-haiku-4-5"}"#)
            ) { response in
                #expect(response.status == .notFound)
                let errorCode = try TestGateway.errorCode(response.body)
                #expect(errorCode == "model_not_found")
            }
            #expect(upstream.requests.withLock { $0.isEmpty })
        }
    }

    @Test func upstreamGetsTheProviderKeyAndNeverTheVirtualKey() async throws {
        let upstream = ScriptedUpstream(.init(chunks: [#"{"id":"msg_1","type":"message","usage":{"input_tokens":3,"output_tokens":4}}"#]))
        let app = try await TestGateway.make(upstream: upstream)
        try await app.test(.router) { client in
            let (_, key) = try await TestGateway.createKey(client)
            try await client.execute(
                uri: "/v1/messages?beta=true", method: .post,
                headers: [
                    HTTPField.Name("x-api-key")!: key, HTTPField.Name("anthropic-version")!: "2023-06-01",
                    HTTPField.Name("anthropic-beta")!: "prompt-caching-2024-07-31", .connection: "keep-alive, x-hop",
                    HTTPField.Name("x-hop")!: "1", .acceptEncoding: "gzip",
                ],
                body: ByteBuffer(string: #"{"model":"claude-haiku-4-5","max_tokens":5,"messages":[]}"#)
            ) { response in
                #expect(response.status == .ok)
            }
            let sent = try #require(upstream.requests.withLock { $0.first })
            #expect(sent.url == "https://anthropic.example/v1/messages?beta=true")
            #expect(sent.headers[HTTPField.Name("x-api-key")!] == TestGateway.providerKey)
            #expect(sent.headers[.authorization] == nil)
            #expect(sent.headers[HTTPField.Name("anthropic-version")!] == "2023-06-01")
            #expect(sent.headers[HTTPField.Name("anthropic-beta")!] == "prompt-caching-2024-07-31")
            #expect(sent.headers[HTTPField.Name("x-hop")!] == nil)
            #expect(sent.headers[.acceptEncoding] == "identity")
            #expect(!sent.headers.contains { $0.value.contains(key) })
        }
    }

    @Test func openAIPathsDropTheirV1PrefixOnABaseURLThatHasIt() async throws {
        let upstream = ScriptedUpstream(.init(chunks: [#"{"object":"list","data":[],"usage":{"prompt_tokens":2,"total_tokens":2}}"#]))
        let app = try await TestGateway.make(upstream: upstream)
        try await app.test(.router) { client in
            let (_, key) = try await TestGateway.createKey(client)
            try await client.execute(
                uri: "/v1/embeddings", method: .post, headers: [.authorization: "Bearer \(key)"],
                body: ByteBuffer(string: #"{"model":"gpt-embed","input":"x"}"#)
            ) { _ in }
            let sent = try #require(upstream.requests.withLock { $0.first })
            #expect(sent.url == "https://api.example/v1/embeddings")
            #expect(sent.headers[.authorization] == "Bearer \(TestGateway.providerKey)")
        }
    }

    @Test func upstreamErrorsPassThroughWithTheProviderKeyRedacted() async throws {
        let leak =
            #"{"error":{"message":"Incorrect API key provided: \#(TestGateway.providerKey).","type":"invalid_request_error","code":"invalid_api_key"}}"#
        let upstream = ScriptedUpstream(.init(status: 401, chunks: [leak]))
        let app = try await TestGateway.make(upstream: upstream)
        try await app.test(.router) { client in
            let (_, key) = try await TestGateway.createKey(client)
            try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: [.authorization: "Bearer \(key)"],
                body: ByteBuffer(string: #"{"model":"gpt-4o"}"#)
            ) { response in
                #expect(response.status == .unauthorized)
                let text = String(buffer: response.body)
                #expect(!text.contains(TestGateway.providerKey))
                #expect(text.contains("[redacted]"))
            }
            let call = try #require(try await TestGateway.calls(client, expecting: 1).first)
            #expect(call["outcome"] as? String == "upstream_error")
            #expect(call["error_code"] as? String == "invalid_api_key")
            #expect(call["status"] as? Int == 401)
        }
    }

    @Test(arguments: [(UpstreamError.timeout, 504, "upstream_timeout"), (.unreachable("refused"), 502, "upstream_unreachable")])
    func upstreamFailuresMapToGatewayErrors(error: UpstreamError, status: Int, code: String) async throws {
        let app = try await TestGateway.make(upstream: ScriptedUpstream(.init(error: error)))
        try await app.test(.router) { client in
            let (_, key) = try await TestGateway.createKey(client)
            try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: [.authorization: "Bearer \(key)"],
                body: ByteBuffer(string: #"{"model":"gpt-4o"}"#)
            ) { response in
                #expect(Int(response.status.code) == status)
                let errorCode = try TestGateway.errorCode(response.body)
                #expect(errorCode == code)
            }
            let call = try #require(try await TestGateway.calls(client, expecting: 1).first)
            #expect(call["outcome"] as? String == "upstream_error")
        }
    }

    @Test func aStreamThatEndsWithoutItsFinalEventIsLoggedAsCut() async throws {
        let events = [
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":21,\"output_tokens\":1}}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n",
        ]
        let app = try await TestGateway.make(upstream: ScriptedUpstream(.init(contentType: "text/event-stream", chunks: events)))
        try await app.test(.router) { client in
            let (_, key) = try await TestGateway.createKey(client)
            try await client.execute(
                uri: "/v1/messages", method: .post, headers: [HTTPField.Name("x-api-key")!: key],
                body: ByteBuffer(string: #"{"model":"claude-haiku-4-5","stream":true,"max_tokens":9}"#)
            ) { response in
                #expect(String(buffer: response.body) == events.joined())
            }
            let call = try #require(try await TestGateway.calls(client, expecting: 1).first)
            #expect(call["outcome"] as? String == "stream_cut")
            #expect(call["input_tokens"] as? Int == 21)
            #expect(call["output_tokens"] as? Int == 1)
        }
    }

    @Test func eachSDKGetsItsOwnModelList() async throws {
        let app = try await TestGateway.make(demo: true)
        try await app.test(.router) { client in
            let (_, key) = try await TestGateway.createKey(client)
            try await client.execute(uri: "/v1/models", method: .get, headers: [.authorization: "Bearer \(key)"]) { response in
                let body = try TestGateway.json(response.body)
                #expect(body["object"] as? String == "list")
                let ids = (body["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? []
                #expect(ids.contains("gpt-4o-mini") && !ids.contains { $0.hasPrefix("claude") })
            }
            try await client.execute(
                uri: "/v1/models", method: .get,
                headers: [HTTPField.Name("x-api-key")!: key, HTTPField.Name("anthropic-version")!: "2023-06-01"]
            ) { response in
                let body = try TestGateway.json(response.body)
                #expect(body["has_more"] as? Bool == false)
                let types = (body["data"] as? [[String: Any]])?.compactMap { $0["type"] as? String } ?? []
                #expect(!types.isEmpty && types.allSatisfy { $0 == "model" })
            }
        }
    }

    /// Errors raised before or outside a route take the shape of the family the path belongs to,
    /// the same one the route itself answers in.
    @Test func errorsOutsideARouteTakeTheRouteFamilysShape() async throws {
        let app = try await TestGateway.make(demo: true)
        let anthropic: HTTPFields = [HTTPField.Name("anthropic-version")!: "2023-06-01"]
        try await app.test(.router) { client in
            for (uri, method, headers, isAnthropic, status) in [
                ("/v1/messages/batches", HTTPRequest.Method.get, HTTPFields(), true, HTTPResponse.Status.notFound),
                ("/v1/messages", .get, HTTPFields(), true, .methodNotAllowed),
                ("/v1/models/a/b", .get, anthropic, true, .notFound),
                ("/v1/models/a/b", .get, HTTPFields(), false, .notFound),
                ("/v1/chat/completions", .get, HTTPFields(), false, .methodNotAllowed),
            ] {
                try await client.execute(uri: uri, method: method, headers: headers) { response in
                    #expect(response.status == status, "\(method) \(uri)")
                    let object = try TestGateway.json(response.body)
                    let error = try #require(object["error"] as? [String: Any])
                    if status == .methodNotAllowed { #expect(response.headers[.allow] == "POST", "\(uri)") }
                    if isAnthropic {
                        #expect(object["type"] as? String == "error", "\(uri)")
                        #expect(error["type"] as? String == (status == .notFound ? "not_found_error" : "invalid_request_error"), "\(uri)")
                    } else {
                        #expect(error["code"] as? String == (status == .notFound ? "not_found" : "method_not_allowed"), "\(uri)")
                    }
                }
            }
        }
    }

    /// A JSON answer that breaks off mid-body: the client gets 502, not a truncated document, and the
    /// call is charged what arrived (the provider made the whole answer before sending it).
    @Test func aJSONAnswerCutMidBodyIs502AndStillCharged() async throws {
        let partial =
            #"{"id":"chatcmpl-1","object":"chat.completion","choices":[{"message":{"content":""# + String(repeating: "word ", count: 80)
        let upstream = ScriptedUpstream(.init(chunks: [partial], contentLength: 4096, breaksOff: true))
        let app = try await TestGateway.make(upstream: upstream)
        try await app.test(.router) { client in
            let (_, key) = try await TestGateway.createKey(client)
            let callID = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: [.authorization: "Bearer \(key)", .contentType: "application/json"],
                body: ByteBuffer(string: #"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#)
            ) { response in
                #expect(response.status == .badGateway)
                let code = try TestGateway.errorCode(response.body)
                #expect(code == "upstream_unreachable")
                return response.headers[requestID]
            }
            let calls = try await TestGateway.calls(client, expecting: 1)
            let call = try #require(calls.first { $0["id"] as? String == callID })
            #expect(call["outcome"] as? String == "upstream_error")
            #expect(call["usage_source"] as? String == "estimated")
            #expect((call["output_tokens"] as? Int ?? 0) >= partial.utf8.count / 4)
            #expect((call["cost_usd"] as? Double ?? 0) > 0)
        }
    }

    @Test func unknownRoutesAnswerJSON404() async throws {
        let app = try await TestGateway.make(demo: true)
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/nothing", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(response.headers[requestID] != nil)
                let errorCode = try TestGateway.errorCode(response.body)
                #expect(errorCode == "not_found")
            }
        }
    }
}
