import Foundation
import HTTPTypes
import PerimeterCore
import PerimeterProviders

/// Bedrock's runtime routes: `POST /model/{modelId}/{action}`, the model id in the path.
package enum BedrockRoute {
    /// The four actions, by the last path segment.
    static let endpoints: [(action: String, endpoint: Endpoint)] = [
        ("converse", endpoint("converse", .converse, .bedrockConverse, stream: false)),
        ("converse-stream", endpoint("converse-stream", .converse, .bedrockConverse, stream: true)),
        ("invoke", endpoint("invoke", .invoke, .bedrockInvoke, stream: false)),
        ("invoke-with-response-stream", endpoint("invoke-with-response-stream", .invoke, .bedrockInvoke, stream: true)),
    ]

    private static func endpoint(_ action: String, _ operation: CallOperation, _ format: UsageFormat, stream: Bool) -> Endpoint {
        Endpoint(
            method: .post, path: "/model/{modelId}/\(action)", kind: .bedrock, operation: operation, usageFormat: format,
            hasBody: true, isStreamRoute: stream)
    }

    /// The upstream path for `model` (a plain name, checked before) and the endpoint's action. The id is
    /// percent-encoded as AWS's SDKs send it (`:` as `%3A`), so the signature matches what AWS computes.
    static func upstreamPath(model: String, action: String) -> String {
        "/model/\(PercentEncoding.encode(model))/\(action)"
    }

    /// Usage in Bedrock's `x-amzn-bedrock-*-token-count` headers, which InvokeModel sets for every model.
    static func headerUsage(_ headers: HTTPFields) -> Usage? {
        func count(_ name: String) -> Int? {
            // Bounded as the JSON counters are, so no sum of them can overflow.
            HTTPField.Name(name).flatMap { headers[$0] }.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }.flatMap {
                (0..<1_000_000_000_000_000).contains($0) ? $0 : nil
            }
        }
        guard let input = count("x-amzn-bedrock-input-token-count"), let output = count("x-amzn-bedrock-output-token-count") else {
            return nil
        }
        let cacheRead = count("x-amzn-bedrock-cache-read-input-token-count") ?? 0
        let cacheWrite = count("x-amzn-bedrock-cache-write-input-token-count") ?? 0
        return Usage(
            inputTokens: input + cacheRead + cacheWrite, cachedInputTokens: cacheRead, cacheWriteTokens: cacheWrite, outputTokens: output)
    }

    /// Bedrock options a client may set in headers that Bedrock bills beyond tokens: a guardrail (per
    /// text unit), latency-optimized inference and a service tier other than the default. A key with a
    /// budget is refused them (see ``RequestFacts/perUseFeatures``).
    static func perUseFeatures(_ headers: HTTPFields) -> [String] {
        func value(_ name: String) -> String? { HTTPField.Name(name).flatMap { headers[$0] }?.lowercased() }
        var features: [String] = []
        if value("x-amzn-bedrock-guardrailidentifier") != nil { features.append("bedrock_guardrail") }
        if let latency = value("x-amzn-bedrock-performanceconfig-latency"), latency != "standard" {
            features.append("bedrock_latency_\(latency.prefix(20))")
        }
        if let tier = value("x-amzn-bedrock-service-tier"), tier != "default" { features.append("bedrock_service_tier_\(tier.prefix(20))") }
        return features
    }

    /// True for AWS's binary event stream.
    static func isEventStream(_ headers: HTTPFields) -> Bool {
        headers[.contentType]?.lowercased().hasPrefix("application/vnd.amazon.eventstream") ?? false
    }
}
