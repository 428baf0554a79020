import Foundation
import PerimeterCore

/// The simulated provider behind `perimeter serve --demo`: deterministic answers in both wire formats,
/// streams included, with usage, so the whole flow can be walked without a provider account.
public enum DemoProvider {
    public struct Response: Sendable {
        public var status: Int
        public var contentType: String
        public var chunks: [[UInt8]]
    }

    public static let models = [
        "gpt-4o-mini", "gpt-4o", "text-embedding-3-small", "claude-sonnet-4-5", "claude-haiku-4-5", "gemini-2.5-flash",
        "gemini-embedding-001",
    ]

    /// `eventStream`: a Gemini stream as server-sent events (`alt=sse`); else Gemini's JSON array.
    public static func respond(
        to operation: CallOperation, kind: ProviderKind = .openAI, facts: RequestFacts, body: [UInt8], eventStream: Bool = true
    ) -> Response {
        let model = facts.model ?? "demo"
        let request = jsonObject(body) ?? [:]
        let inputTokens = max(1, body.count / 4)
        let words = answer(for: model).split(separator: " ").map { String($0) }
        let outputTokens = min(words.count, facts.maxOutputTokens ?? .max)
        let text = words.prefix(outputTokens).joined(separator: " ")
        switch operation {
        case _ where kind == .gemini:
            return gemini(
                operation, model: model, words: Array(words.prefix(outputTokens)), input: inputTokens, facts: facts, request: request,
                eventStream: eventStream)
        case .converse, .invoke:
            return bedrock(operation, model: model, words: Array(words.prefix(outputTokens)), input: inputTokens, facts: facts)
        case .chat:
            return facts.isStream
                ? chatStream(
                    model: model, words: Array(words.prefix(outputTokens)), input: inputTokens,
                    includeUsage: facts.includesUsage)
                : json([
                    "id": "chatcmpl-demo", "object": "chat.completion", "created": 1_700_000_000, "model": model,
                    "choices": [
                        [
                            "index": 0, "finish_reason": "stop", "logprobs": NSNull(),
                            "message": ["role": "assistant", "content": text, "refusal": NSNull()],
                        ]
                    ],
                    "usage": [
                        "prompt_tokens": inputTokens, "completion_tokens": outputTokens,
                        "total_tokens": inputTokens + outputTokens, "prompt_tokens_details": ["cached_tokens": 0],
                    ],
                ])
        case .responses:
            return json(responseObject(model: model, text: text, input: inputTokens, output: outputTokens))
        case .embeddings:
            let inputs: [String] = (request["input"] as? [Any])?.map { "\($0)" } ?? [request["input"].map { "\($0)" } ?? ""]
            let data = inputs.enumerated().map { index, input in
                ["object": "embedding", "index": index, "embedding": embedding(of: input)] as [String: Any]
            }
            let tokens = max(1, inputs.reduce(0) { $0 + $1.utf8.count / 4 + 1 })
            return json([
                "object": "list", "model": model, "data": data,
                "usage": ["prompt_tokens": tokens, "total_tokens": tokens],
            ])
        case .messages:
            return facts.isStream
                ? messageStream(model: model, words: Array(words.prefix(outputTokens)), input: inputTokens)
                : json([
                    "id": "msg_demo", "type": "message", "role": "assistant", "model": model,
                    "content": [["type": "text", "text": text]], "stop_reason": "end_turn", "stop_sequence": NSNull(),
                    "usage": ["input_tokens": inputTokens, "output_tokens": outputTokens],
                ])
        case .countTokens, .generate:
            return json(["input_tokens": inputTokens])
        case .models where kind == .anthropic:
            let claude = models.filter { $0.hasPrefix("claude-") }
            return json([
                "data": claude.map { ["type": "model", "id": $0, "display_name": $0, "created_at": "2025-09-29T00:00:00Z"] },
                "has_more": false, "first_id": claude.first ?? NSNull(), "last_id": claude.last ?? NSNull(),
            ])
        case .models:
            return json([
                "object": "list",
                "data": models.filter { !$0.hasPrefix("claude-") && !$0.hasPrefix("gemini-") }.map {
                    ["id": $0, "object": "model", "created": 1_700_000_000, "owned_by": "perimeter-demo"]
                },
            ])
        }
    }

    static func answer(for model: String) -> String {
        "Hello from Perimeter's demo provider. This deterministic answer stands in for \(model), so you can see the call, its tokens and its cost in the call log."
    }

    private static func chatStream(model: String, words: [String], input: Int, includeUsage: Bool) -> Response {
        func chunk(_ delta: [String: Any], finish: String?, usage: Any = NSNull()) -> [UInt8] {
            var object: [String: Any] = [
                "id": "chatcmpl-demo", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
                "choices": [["index": 0, "delta": delta, "finish_reason": finish.map { $0 as Any } ?? NSNull(), "logprobs": NSNull()]],
            ]
            if includeUsage { object["usage"] = usage }
            return event(data: object)
        }
        var chunks = [chunk(["role": "assistant", "content": ""], finish: nil)]
        for (index, word) in words.enumerated() {
            chunks.append(chunk(["content": (index == 0 ? "" : " ") + word], finish: nil))
        }
        chunks.append(chunk([:], finish: "stop"))
        if includeUsage {
            let usage: [String: Any] = [
                "prompt_tokens": input, "completion_tokens": words.count, "total_tokens": input + words.count,
                "prompt_tokens_details": ["cached_tokens": 0],
            ]
            chunks.append(
                event(data: [
                    "id": "chatcmpl-demo", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
                    "choices": [] as [Any], "usage": usage,
                ]))
        }
        chunks.append(Array("data: [DONE]\n\n".utf8))
        return Response(status: 200, contentType: "text/event-stream", chunks: chunks)
    }

    private static func messageStream(model: String, words: [String], input: Int) -> Response {
        var chunks = [
            event(
                name: "message_start",
                data: [
                    "type": "message_start",
                    "message": [
                        "id": "msg_demo", "type": "message", "role": "assistant", "model": model, "content": [] as [Any],
                        "stop_reason": NSNull(), "stop_sequence": NSNull(),
                        "usage": ["input_tokens": input, "output_tokens": 1],
                    ],
                ]),
            event(
                name: "content_block_start",
                data: [
                    "type": "content_block_start", "index": 0, "content_block": ["type": "text", "text": ""],
                ]),
        ]
        for (index, word) in words.enumerated() {
            chunks.append(
                event(
                    name: "content_block_delta",
                    data: [
                        "type": "content_block_delta", "index": 0,
                        "delta": ["type": "text_delta", "text": (index == 0 ? "" : " ") + word],
                    ]))
        }
        chunks.append(event(name: "content_block_stop", data: ["type": "content_block_stop", "index": 0]))
        chunks.append(
            event(
                name: "message_delta",
                data: [
                    "type": "message_delta", "delta": ["stop_reason": "end_turn", "stop_sequence": NSNull()],
                    "usage": ["output_tokens": words.count],
                ]))
        chunks.append(event(name: "message_stop", data: ["type": "message_stop"]))
        return Response(status: 200, contentType: "text/event-stream", chunks: chunks)
    }

    private static func responseObject(model: String, text: String, input: Int, output: Int) -> [String: Any] {
        [
            "id": "resp_demo", "object": "response", "created_at": 1_700_000_000, "status": "completed", "model": model,
            "output": [
                [
                    "type": "message", "id": "msg_demo", "status": "completed", "role": "assistant",
                    "content": [["type": "output_text", "text": text, "annotations": [] as [Any]]],
                ]
            ],
            "usage": [
                "input_tokens": input, "input_tokens_details": ["cached_tokens": 0], "output_tokens": output,
                "output_tokens_details": ["reasoning_tokens": 0], "total_tokens": input + output,
            ],
        ]
    }

    /// A small deterministic unit vector derived from the input's bytes.
    static func embedding(of input: String) -> [Double] {
        var state = CRC32.checksum(input.utf8)
        var vector = (0..<8).map { _ -> Double in
            state = state &* 1_664_525 &+ 1_013_904_223
            return Double(state % 2000) / 1000 - 1
        }
        let norm = max(1e-9, vector.reduce(0) { $0 + $1 * $1 }.squareRoot())
        vector = vector.map { ($0 / norm * 1e6).rounded() / 1e6 }
        return vector
    }

    static func json(_ object: [String: Any]) -> Response {
        Response(status: 200, contentType: "application/json", chunks: [serialize(object)])
    }

    private static func event(name: String? = nil, data: [String: Any]) -> [UInt8] {
        (name.map { Array("event: \($0)\n".utf8) } ?? []) + Array("data: ".utf8) + serialize(data) + Array("\n\n".utf8)
    }

    static func serialize(_ object: [String: Any]) -> [UInt8] {
        Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8))
    }
}
