import Foundation
import PerimeterCore

extension DemoProvider {
    /// Gemini's shapes: generateContent (a stream is server-sent events when `alt=sse` asks, else one
    /// JSON array sent element by element), token counting, embeddings and the model list.
    static func gemini(
        _ operation: CallOperation, model: String, words: [String], input: Int, facts: RequestFacts, request: [String: Any],
        eventStream: Bool
    ) -> Response {
        func usage(output: Int) -> [String: Any] {
            ["promptTokenCount": input, "candidatesTokenCount": output, "totalTokenCount": input + output]
        }
        func chunk(_ text: String, finish: Bool, output: Int) -> [String: Any] {
            var candidate: [String: Any] = ["content": ["role": "model", "parts": [["text": text]]], "index": 0]
            if finish { candidate["finishReason"] = "STOP" }
            return ["candidates": [candidate], "usageMetadata": usage(output: output), "modelVersion": model, "responseId": "demo"]
        }
        switch operation {
        case .generate where facts.isStream && !eventStream:
            var parts = words.enumerated().map { index, word in
                serialize(chunk((index == 0 ? "" : " ") + word, finish: false, output: index + 1))
            }
            parts.append(serialize(chunk("", finish: true, output: words.count)))
            let chunks = parts.enumerated().map { index, part in Array((index == 0 ? "[" : ",\r\n").utf8) + part }
            return Response(status: 200, contentType: "application/json", chunks: chunks + [Array("]".utf8)])
        case .generate where facts.isStream:
            var chunks = words.enumerated().map { index, word in
                Array("data: ".utf8) + serialize(chunk((index == 0 ? "" : " ") + word, finish: false, output: index + 1))
                    + Array("\r\n\r\n".utf8)
            }
            chunks.append(Array("data: ".utf8) + serialize(chunk("", finish: true, output: words.count)) + Array("\r\n\r\n".utf8))
            return Response(status: 200, contentType: "text/event-stream", chunks: chunks)
        case .generate:
            return json(chunk(words.joined(separator: " "), finish: true, output: words.count))
        case .countTokens:
            return json(["totalTokens": input])
        case .embeddings:
            let requests = (request["requests"] as? [[String: Any]]) ?? [request]
            let vectors = requests.map { ["values": embedding(of: "\($0["content"] ?? "")")] }
            return json(request["requests"] == nil ? ["embedding": vectors[0]] : ["embeddings": vectors])
        default:
            return json([
                "models": models.filter { $0.hasPrefix("gemini-") }.map { name in
                    [
                        "name": "models/\(name)", "displayName": name, "version": "001", "inputTokenLimit": 1_048_576,
                        "outputTokenLimit": name.contains("embedding") ? 1 : 65_536,
                        "supportedGenerationMethods": name.contains("embedding")
                            ? ["embedContent"] : ["generateContent", "countTokens"],
                    ] as [String: Any]
                }
            ])
        }
    }
}
