import Foundation
import PerimeterCore

extension DemoProvider {
    /// Bedrock's shapes: Converse (JSON, or the binary event stream ConverseStream sends) and InvokeModel
    /// with Anthropic's Messages body (streamed as `chunk` events whose `bytes` are Messages events, the
    /// last with Bedrock's invocation metrics).
    static func bedrock(_ operation: CallOperation, model: String, words: [String], input: Int, facts: RequestFacts) -> Response {
        let text = words.joined(separator: " ")
        let output = words.count
        let pieces = words.enumerated().map { index, word in (index == 0 ? "" : " ") + word }
        switch operation {
        case .converse where facts.isStream:
            var messages = [event("messageStart", ["role": "assistant"])]
            messages += pieces.map { event("contentBlockDelta", ["contentBlockIndex": 0, "delta": ["text": $0]]) }
            messages += [
                event("contentBlockStop", ["contentBlockIndex": 0]), event("messageStop", ["stopReason": "end_turn"]),
                event(
                    "metadata",
                    [
                        "usage": ["inputTokens": input, "outputTokens": output, "totalTokens": input + output],
                        "metrics": ["latencyMs": 1],
                    ]),
            ]
            return Response(status: 200, contentType: eventStreamType, chunks: messages)
        case .converse:
            return json([
                "output": ["message": ["role": "assistant", "content": [["text": text]]]], "stopReason": "end_turn",
                "usage": ["inputTokens": input, "outputTokens": output, "totalTokens": input + output],
                "metrics": ["latencyMs": 1],
            ])
        case .invoke where facts.isStream:
            var events: [[String: Any]] = [
                [
                    "type": "message_start",
                    "message": [
                        "id": "msg_demo", "type": "message", "role": "assistant", "model": model, "content": [],
                        "usage": ["input_tokens": input, "output_tokens": 1],
                    ],
                ],
                ["type": "content_block_start", "index": 0, "content_block": ["type": "text", "text": ""]],
            ]
            events += pieces.map { ["type": "content_block_delta", "index": 0, "delta": ["type": "text_delta", "text": $0]] }
            events += [
                ["type": "content_block_stop", "index": 0],
                ["type": "message_delta", "delta": ["stop_reason": "end_turn"], "usage": ["output_tokens": output]],
                [
                    "type": "message_stop",
                    "amazon-bedrock-invocationMetrics": [
                        "inputTokenCount": input, "outputTokenCount": output, "invocationLatency": 1, "firstByteLatency": 1,
                    ],
                ],
            ]
            let chunks = events.map { event("chunk", ["bytes": Data(serialize($0)).base64EncodedString()]) }
            return Response(status: 200, contentType: eventStreamType, chunks: chunks)
        default:
            return json([
                "id": "msg_demo", "type": "message", "role": "assistant", "model": model,
                "content": [["type": "text", "text": text]], "stop_reason": "end_turn", "stop_sequence": NSNull(),
                "usage": ["input_tokens": input, "output_tokens": output],
            ])
        }
    }

    static let eventStreamType = "application/vnd.amazon.eventstream"

    private static func event(_ type: String, _ payload: [String: Any]) -> [UInt8] {
        EventStreamMessage(
            headers: [":event-type": type, ":message-type": "event", ":content-type": "application/json"], payload: serialize(payload)
        ).encoded()
    }
}
