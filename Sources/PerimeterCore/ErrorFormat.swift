import Foundation

/// The JSON shape in which a route family reports errors.
public enum ErrorFormat: Sendable {
    /// `{"error":{"message","type","param","code"}}`, for OpenAI routes and the admin API.
    case openAI
    /// `{"type":"error","error":{"type","message"}}`, for Anthropic routes.
    case anthropic

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

    private struct AnthropicEnvelope: Encodable {
        struct Body: Encodable {
            var type: String
            var message: String
        }
        var type = "error"
        var error: Body
    }
}
