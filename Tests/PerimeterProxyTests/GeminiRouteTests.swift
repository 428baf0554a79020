import Foundation
import PerimeterCore
import Testing

@testable import PerimeterProxy

/// Gemini's `models/{model}:{method}` segment, the key in its URL, and its error shape.
@Suite struct GeminiRouteTests {
    @Test func eachMethodMapsToItsOperation() throws {
        let (generate, model) = try GeminiRoute.endpoint(action: "gemini-2.5-flash:generateContent")
        #expect(model == "gemini-2.5-flash" && generate.operation == .generate && !generate.isStreamRoute)
        #expect(try GeminiRoute.endpoint(action: "gemini-2.5-flash:streamGenerateContent").0.isStreamRoute)
        #expect(try GeminiRoute.endpoint(action: "gemini-2.5-pro:countTokens").0.operation == .countTokens)
        #expect(try GeminiRoute.endpoint(action: "gemini-embedding-001:embedContent").0.operation == .embeddings)
        #expect(try GeminiRoute.endpoint(action: "gemini-embedding-001:batchEmbedContents").0.usageFormat == .geminiEmbeddings)
    }

    @Test func onlyPlainModelNamesAndKnownMethodsPass() {
        // Anything that could lead the provider's key to another endpoint of its API is refused.
        for segment in [
            "..%2Fcached:generateContent", "a/b:generateContent", "gemini%3Ax:generateContent", ":generateContent", "x y:countTokens",
        ] {
            #expect(throws: GatewayError.self, "\(segment)") { try GeminiRoute.endpoint(action: segment) }
        }
        #expect(throws: GatewayError.notFound("This gateway does not serve the Gemini method 'predict'.")) {
            try GeminiRoute.endpoint(action: "gemini-2.5-flash:predict")
        }
        #expect(throws: GatewayError.self) { try GeminiRoute.endpoint(action: "gemini-2.5-flash") }
    }

    @Test func theKeyInTheURLIsReadAndNeverForwarded() throws {
        #expect(GeminiRoute.queryKey("alt=sse&key=pk_test_abc%2B1") == "pk_test_abc+1")
        #expect(GeminiRoute.queryKey("alt=sse") == nil && GeminiRoute.queryKey(nil) == nil)
        #expect(try GeminiRoute.forwardedQuery("key=pk_1&alt=sse&key=pk_2") == "alt=sse")
        #expect(try GeminiRoute.forwardedQuery("key=pk_1") == nil)
        #expect(try GeminiRoute.forwardedQuery("pageSize=50&pageToken=abc") == "pageSize=50&pageToken=abc")
        // Parameters that would strip or hide the usage the call is charged from are refused.
        for query in ["fields=candidates", "%24fields=candidates", "$fields=x", "alt=proto", "$alt=proto", "callback=f", "monkey=1"] {
            #expect(throws: GatewayError.self, "\(query)") { try GeminiRoute.forwardedQuery(query) }
        }
    }

    @Test func refusalsComeInGooglesErrorShape() throws {
        let body = ErrorFormat.gemini.body(for: .modelNotAllowed("gemini-2.5-pro"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        let error = try #require(object["error"] as? [String: Any])
        #expect(error["code"] as? Int == 403 && error["status"] as? String == "PERMISSION_DENIED")
        let detail = try #require((error["details"] as? [[String: Any]])?.first)
        #expect(detail["@type"] as? String == "type.googleapis.com/google.rpc.ErrorInfo")
        #expect(detail["reason"] as? String == "model_not_allowed" && detail["domain"] as? String == "perimeter.dev")
        #expect(GatewayError.rateLimited(.requests, retryAfter: 1).googleStatus == "RESOURCE_EXHAUSTED")
        #expect(GatewayError.invalidKey.googleStatus == "UNAUTHENTICATED")
    }
}
