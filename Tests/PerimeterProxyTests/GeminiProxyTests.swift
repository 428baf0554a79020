import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PerimeterCore
import PerimeterGatewayTesting
import Testing

@testable import PerimeterProxy

/// Gemini's routes through the whole gateway, against the demo provider.
@Suite struct GeminiProxyTests {
    let googKey = HTTPField.Name("x-goog-api-key")!
    let body = ByteBuffer(string: #"{"contents":[{"role":"user","parts":[{"text":"hello"}]}]}"#)

    @Test func aCallWithTheKeyInAHeaderOrTheURLIsAnsweredAndLogged() async throws {
        let app = try await TestGateway.make(demo: true)
        try await app.test(.router) { client in
            let (id, key) = try await TestGateway.createKey(client)
            try await client.execute(
                uri: "/v1beta/models/gemini-2.5-flash:generateContent", method: .post, headers: [googKey: key], body: body
            ) { response in
                #expect(response.status == .ok)
                let candidates = try #require(try TestGateway.json(response.body)["candidates"] as? [[String: Any]])
                #expect(candidates.first?["finishReason"] as? String == "STOP")
            }
            try await client.execute(
                uri: "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=\(key)", method: .post, body: body
            ) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/event-stream")
                #expect(String(buffer: response.body).contains(#""finishReason":"STOP""#))
            }
            let calls = try await TestGateway.calls(client, expecting: 2)
            for call in calls {
                #expect(call["key_id"] as? String == id && call["provider"] as? String == "demo-gemini")
                #expect(call["operation"] as? String == "generate" && call["outcome"] as? String == "ok")
                #expect(call["usage_source"] as? String == "provider" && (call["output_tokens"] as? Int ?? 0) > 0)
                #expect((call["cost_usd"] as? Double ?? 0) > 0)
            }
            #expect(Set(calls.map { $0["stream"] as? Bool }) == [true, false])
        }
    }

    @Test func refusalsAndUnknownRoutesAnswerInGooglesShape() async throws {
        let app = try await TestGateway.make(demo: true)
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1beta/models/gemini-2.5-flash:generateContent", method: .post, body: body) { response in
                #expect(response.status == .unauthorized)
                let error = try #require(try TestGateway.json(response.body)["error"] as? [String: Any])
                #expect(error["status"] as? String == "UNAUTHENTICATED" && error["code"] as? Int == 401)
            }
            let (_, key) = try await TestGateway.createKey(client)
            for (segment, status) in [("gemini-2.5-flash:predict", HTTPResponse.Status.notFound), ("a%2Fb:generateContent", .badRequest)] {
                try await client.execute(uri: "/v1beta/models/\(segment)", method: .post, headers: [googKey: key], body: body) { response in
                    #expect(response.status == status, "\(segment)")
                    let error = try TestGateway.json(response.body)["error"] as? [String: Any]
                    #expect(error?["status"] != nil)
                }
            }
        }
    }

    @Test func theModelListIsGeminisAndFollowsTheKeysModels() async throws {
        let app = try await TestGateway.make(demo: true)
        try await app.test(.router) { client in
            let (_, key) = try await TestGateway.createKey(client)
            try await client.execute(uri: "/v1beta/models", method: .get, headers: [googKey: key]) { response in
                #expect(response.status == .ok)
                let models = try #require(try TestGateway.json(response.body)["models"] as? [[String: Any]])
                #expect(models.contains { $0["name"] as? String == "models/gemini-2.5-flash" })
            }
        }
    }

    @Test func aModelInThePathCannotLeadToAnotherEndpoint() async throws {
        let app = try await TestGateway.make(demo: true)
        try await app.test(.router) { client in
            let (_, key) = try await TestGateway.createKey(client)
            for (path, headers) in [
                ("/v1/models/..%2Ffiles", [HTTPField.Name.authorization: "Bearer \(key)"]),
                ("/v1beta/models/..%2F..%2Fv1beta%2Ffiles", [googKey: key]),
                ("/v1/models/.hidden", [HTTPField.Name.authorization: "Bearer \(key)"]),
            ] {
                try await client.execute(
                    uri: path, method: .get, headers: HTTPFields(headers.map { HTTPField(name: $0.key, value: $0.value) })
                ) {
                    response in
                    #expect(response.status == .badRequest, "\(path)")
                }
            }
            // Plain names, fine-tuned ones included, pass.
            try await client.execute(uri: "/v1/models/gpt-4o-mini", method: .get, headers: [.authorization: "Bearer \(key)"]) { response in
                #expect(response.status == .ok)
            }
            #expect(ProxyHandler.isPlainModelName("ft:gpt-4o-mini:acme::abc123"))
        }
    }
}
