import Foundation
import HTTPTypes
import PerimeterCore
import PerimeterProviders

/// Gemini's routes put the model and the method in one path segment: `models/{model}:{method}`.
package enum GeminiRoute {
    /// The endpoint and model of `models/{segment}`, or why not. Only plain model names pass, so a
    /// segment cannot reach another of the provider's endpoints (with the provider's key) unmetered.
    package static func endpoint(action segment: String) throws(GatewayError) -> (Endpoint, model: String) {
        guard let colon = segment.lastIndex(of: ":") else {
            throw .notFound("Gemini routes are models/{model}:{method}, such as models/gemini-2.5-flash:generateContent.")
        }
        let model = String(segment[..<colon])
        let method = String(segment[segment.index(after: colon)...])
        guard PlainName.isValid(model, punctuation: "-._", maxLength: 200) else {
            throw .invalidRequest("'\(model.prefix(200))' is not a model name.")
        }
        let endpoint: Endpoint
        switch method {
        case "generateContent": endpoint = generate
        case "streamGenerateContent": endpoint = stream
        case "countTokens": endpoint = countTokens
        case "embedContent", "batchEmbedContents": endpoint = embed
        default: throw .notFound("This gateway does not serve the Gemini method '\(method.prefix(100))'.")
        }
        return (endpoint, model)
    }

    /// The virtual key a Gemini client sent in the URL (`?key=`), if any.
    package static func queryKey(_ query: String?) -> String? {
        guard let query, !query.isEmpty else { return nil }
        for pair in query.split(separator: "&") where pair.hasPrefix("key=") {
            return String(pair.dropFirst(4)).removingPercentEncoding
        }
        return nil
    }

    /// What of `query` goes upstream: `alt=sse` or `alt=json`, and a model list's `pageSize` and
    /// `pageToken`; never the virtual key. Google's other system parameters (`fields`, `$alt=proto`,
    /// `callback`, ...) would let a client strip or hide the usage the call is charged from: refused.
    package static func forwardedQuery(_ query: String?) throws(GatewayError) -> String? {
        guard let query, !query.isEmpty else { return nil }
        var kept: [Substring] = []
        for pair in query.split(separator: "&") {
            let name = pair.split(separator: "=", maxSplits: 1).first ?? ""
            switch name {
            case "key": continue
            case "alt" where pair == "alt=sse" || pair == "alt=json": kept.append(pair)
            case "pageSize", "pageToken": kept.append(pair)
            default:
                throw .invalidRequest(
                    "The query parameter '\(String(name.prefix(40)).removingPercentEncoding ?? "")' is not passed through the gateway; only alt=sse, alt=json, pageSize and pageToken are."
                )
            }
        }
        return kept.isEmpty ? nil : kept.joined(separator: "&")
    }

    static let generate = Endpoint(
        method: .post, path: "/v1beta/models/{model}:generateContent", kind: .gemini, operation: .generate, usageFormat: .gemini,
        hasBody: true)
    static let stream = Endpoint(
        method: .post, path: "/v1beta/models/{model}:streamGenerateContent", kind: .gemini, operation: .generate,
        usageFormat: .gemini, hasBody: true, isStreamRoute: true)
    static let countTokens = Endpoint(
        method: .post, path: "/v1beta/models/{model}:countTokens", kind: .gemini, operation: .countTokens, usageFormat: .none,
        hasBody: true)
    static let embed = Endpoint(
        method: .post, path: "/v1beta/models/{model}:embedContent", kind: .gemini, operation: .embeddings,
        usageFormat: .geminiEmbeddings, hasBody: true)
}
