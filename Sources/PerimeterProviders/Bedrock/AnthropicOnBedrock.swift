import Foundation
import PerimeterCore

/// Anthropic's Messages API served by Claude on Bedrock (InvokeModel), for clients of the Anthropic SDK
/// routed to a Bedrock provider: the request body as Bedrock takes it, and Bedrock's answers back in
/// Anthropic's shapes (its stream as server-sent events, its errors as Anthropic errors).
package enum AnthropicOnBedrock {
    /// The version Bedrock requires in an Anthropic body.
    static let bedrockVersion = "bedrock-2023-05-31"

    /// The Messages body without `model` and `stream` (the path names both on Bedrock), with
    /// `anthropic_version`, and the client's `anthropic-beta` header as `anthropic_beta`.
    package static func requestBody(_ body: [UInt8], betas: [String]) throws(GatewayError) -> [UInt8] {
        guard var object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
            throw .malformedJSON("the body is not one JSON object")
        }
        object["model"] = nil
        object["stream"] = nil
        if object["anthropic_version"] == nil { object["anthropic_version"] = bedrockVersion }
        if !betas.isEmpty, object["anthropic_beta"] == nil { object["anthropic_beta"] = betas }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes]) else {
            throw .malformedJSON("the body cannot be re-encoded")
        }
        return Array(data)
    }

    /// One event-stream message of InvokeModelWithResponseStream as the server-sent event Anthropic's
    /// API sends: a `chunk`'s decoded bytes under its own `type`, Bedrock's invocation metrics removed;
    /// an exception as Anthropic's `error` event. Other messages give nothing.
    static func serverSentEvent(_ message: EventStreamMessage) -> [UInt8] {
        if message.messageType == "exception" || message.messageType == "error" {
            let error: [String: Any] = [
                "type": "error",
                "error": ["type": "api_error", "message": message.eventType ?? "the provider ended the stream with an error"],
            ]
            return event("error", error)
        }
        guard message.eventType == "chunk",
            let wrapper = (try? JSONSerialization.jsonObject(with: Data(message.payload))) as? [String: Any],
            let encoded = wrapper["bytes"] as? String, let decoded = Data(base64Encoded: encoded),
            var object = (try? JSONSerialization.jsonObject(with: decoded)) as? [String: Any],
            let type = object["type"] as? String
        else { return [] }
        object["amazon-bedrock-invocationMetrics"] = nil
        return event(type, object)
    }

    private static func event(_ name: String, _ object: [String: Any]) -> [UInt8] {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Array("event: \(name)\ndata: ".utf8) + Array(data) + Array("\n\n".utf8)
    }

    /// A Bedrock error answer (`{"message"}`) as Anthropic's `{"type":"error","error":{"type","message"}}`.
    package static func errorBody(_ body: [UInt8], status: Int) -> [UInt8] {
        let message =
            ((try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any])?["message"] as? String
            ?? "The provider answered \(status)."
        let type =
            switch status {
            case 400, 413: "invalid_request_error"
            case 401: "authentication_error"
            case 403: "permission_error"
            case 404: "not_found_error"
            case 429: "rate_limit_error"
            case 529, 503: "overloaded_error"
            default: "api_error"
            }
        let object: [String: Any] = ["type": "error", "error": ["type": type, "message": message]]
        return Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data())
    }
}
