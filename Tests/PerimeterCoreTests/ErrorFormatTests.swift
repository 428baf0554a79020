import Foundation
import Testing

@testable import PerimeterCore

@Suite struct ErrorFormatTests {
    func object(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    @Test func openAIShape() throws {
        let body = try object(ErrorFormat.openAI.body(for: .keyRevoked))
        let error = try #require(body["error"] as? [String: Any])
        #expect(error["code"] as? String == "key_revoked")
        #expect(error["type"] as? String == "invalid_request_error")
        #expect(error["param"] is NSNull)
        #expect((error["message"] as? String)?.contains("revoked") == true)
    }

    @Test func anthropicShape() throws {
        let body = try object(ErrorFormat.anthropic.body(for: .modelNotFound("claude-x")))
        #expect(body["type"] as? String == "error")
        let error = try #require(body["error"] as? [String: Any])
        #expect(error["type"] as? String == "not_found_error")
        #expect((error["message"] as? String)?.contains("claude-x") == true)
    }

    @Test(arguments: [
        (GatewayError.missingKey, 401, "invalid_api_key"), (.invalidKey, 401, "invalid_api_key"), (.keyRevoked, 401, "key_revoked"),
        (.malformedJSON("x"), 400, "invalid_json"), (.missingModel, 400, "missing_model"), (.modelNotFound("m"), 404, "model_not_found"),
        (.bodyTooLarge(limit: 1), 413, "request_too_large"), (.upstreamUnreachable(provider: "p"), 502, "upstream_unreachable"),
        (.upstreamTimeout(provider: "p"), 504, "upstream_timeout"), (.secretUnavailable(provider: "p"), 502, "secret_unavailable"),
    ])
    func statusesAndCodes(error: GatewayError, status: Int, code: String) {
        #expect(error.status == status)
        #expect(error.code == code)
    }

    @Test func callRecordsRoundTripThroughTheirJSON() throws {
        let record = CallRecord(
            id: "req_1", time: Date(timeIntervalSince1970: 1_764_000_000.123), keyID: "key_1", keyName: "n", env: "dev",
            owner: nil, clientIP: "127.0.0.1", provider: "openai", model: "gpt-4o", operation: .countTokens, stream: true,
            status: 200, outcome: .streamCut, usage: Usage(inputTokens: 5, cachedInputTokens: 1, cacheWriteTokens: 2, outputTokens: 3),
            cost: Money(nanos: 1234), latencyMS: 12, errorCode: "stream_cut")
        let data = try JSONEncoder().encode(record)
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(json["time"] as? String == "2025-11-24T16:00:00.123Z")
        #expect(json["operation"] as? String == "count_tokens")
        #expect(json["outcome"] as? String == "stream_cut")
        #expect(json["cost_usd"] as? Double == 0.000001234)
        #expect(json["owner"] is NSNull)
        let decoded = try JSONDecoder().decode(CallRecord.self, from: data)
        #expect(abs(decoded.time.timeIntervalSince(record.time)) < 0.000_5)
        var same = decoded
        same.time = record.time
        #expect(same == record)
    }
}
