import Foundation

/// The JSON shape in which a route family reports errors.
public enum ErrorFormat: Sendable {
    /// `{"error":{"message","type","param","code"}}`, for OpenAI routes and the admin API.
    case openAI
    /// `{"type":"error","error":{"type","message"}}`, for Anthropic routes.
    case anthropic
    /// Google's `{"error":{"code","message","status","details":[ErrorInfo]}}`, for Gemini routes; the
    /// gateway's code is the ErrorInfo's `reason`.
    case gemini
    /// AWS's `{"message"}` with the type in the `x-amzn-ErrorType` header, for Bedrock routes; the
    /// gateway's code is the body's `reason`.
    case bedrock

    public func body(for error: GatewayError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data: Data?
        switch self {
        case .openAI:
            data = try? encoder.encode(
                OpenAIEnvelope(error: .init(message: error.message, type: error.openAIType, code: error.code)))
        case .anthropic:
            data = try? encoder.encode(
                AnthropicEnvelope(error: .init(type: error.anthropicType, message: error.message)))
        case .gemini:
            data = try? encoder.encode(
                GoogleEnvelope(
                    error: .init(
                        code: error.status, message: error.message, status: error.googleStatus,
                        details: [.init(reason: error.code)])))
        case .bedrock:
            data = try? encoder.encode(["message": error.message, "reason": error.code])
        }
        return Array(data ?? Data())
    }

    private struct OpenAIEnvelope: Encodable {
        struct Body: Encodable {
            var message: String
            var type: String
            var param: String? = nil
            var code: String

            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(message, forKey: .message)
                try c.encode(type, forKey: .type)
                try c.encode(param, forKey: .param)
                try c.encode(code, forKey: .code)
            }

            enum CodingKeys: String, CodingKey { case message, type, param, code }
        }
        var error: Body
    }

    private struct GoogleEnvelope: Encodable {
        struct Body: Encodable {
            var code: Int
            var message: String
            var status: String
            var details: [ErrorInfo]
        }
        /// `google.rpc.ErrorInfo`, the standard detail naming why.
        struct ErrorInfo: Encodable {
            var type = "type.googleapis.com/google.rpc.ErrorInfo"
            var reason: String
            var domain = "perimeter.dev"

            enum CodingKeys: String, CodingKey {
                case type = "@type"
                case reason, domain
            }
        }
        var error: Body
    }

    private struct AnthropicEnvelope: Encodable {
        struct Body: Encodable {
            var type: String
            var message: String
        }
        var type = "error"
        var error: Body
    }
}
