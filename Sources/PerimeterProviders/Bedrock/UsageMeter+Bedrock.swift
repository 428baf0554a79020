import Foundation
import NIOCore
import PerimeterCore

/// Bedrock's usage counters, in the two shapes it reports them.
enum BedrockUsage {
    /// Converse's `usage` (and Nova's InvokeModel body): `inputTokens` without the cached tokens,
    /// `cacheReadInputTokens`, `cacheWriteInputTokens`, `outputTokens`.
    static func converse(from object: ScannedObject) -> Usage? {
        guard object.int("inputTokens") != nil || object.int("outputTokens") != nil else { return nil }
        // Nova's InvokeModel body names the cache counters as the invocation metrics do.
        return usage(
            input: object.int("inputTokens"), cacheRead: object.int("cacheReadInputTokens") ?? object.int("cacheReadInputTokenCount"),
            cacheWrite: object.int("cacheWriteInputTokens") ?? object.int("cacheWriteInputTokenCount"), output: object.int("outputTokens"))
    }

    /// `amazon-bedrock-invocationMetrics`, the last chunk of an InvokeModelWithResponseStream.
    static func invocationMetrics(from object: ScannedObject) -> Usage? {
        guard object.int("inputTokenCount") != nil || object.int("outputTokenCount") != nil else { return nil }
        return usage(
            input: object.int("inputTokenCount"), cacheRead: object.int("cacheReadInputTokenCount"),
            cacheWrite: object.int("cacheWriteInputTokenCount"), output: object.int("outputTokenCount"))
    }

    /// InvokeModel's answer body: Anthropic's `usage`, or a Converse-shaped one (Nova).
    static func invoke(from object: ScannedObject) -> Usage? {
        AnthropicUsageCounters.usage(from: object) ?? converse(from: object)
    }

    private static func usage(input: Int?, cacheRead: Int?, cacheWrite: Int?, output: Int?) -> Usage {
        let cacheRead = cacheRead ?? 0
        let cacheWrite = cacheWrite ?? 0
        return Usage(
            inputTokens: (input ?? 0) + cacheRead + cacheWrite, cachedInputTokens: cacheRead, cacheWriteTokens: cacheWrite,
            outputTokens: output ?? 0)
    }
}

extension UsageMeter {
    /// Feeds a Bedrock event stream: returns the bytes of the whole messages completed so far (what
    /// may go to the client), metering each.
    mutating func consumeEventStream(_ chunk: ByteBuffer) -> ByteBuffer {
        let (raw, messages) = eventFramer.append(chunk.readableBytesView)
        for message in messages { observe(message) }
        guard translatesToServerSentEvents else { return ByteBuffer(bytes: raw) }
        // An Anthropic client routed to Bedrock gets Anthropic's stream.
        return ByteBuffer(bytes: messages.flatMap(AnthropicOnBedrock.serverSentEvent))
    }

    private mutating func observe(_ message: EventStreamMessage) {
        guard message.messageType == "event" || message.messageType == nil else {
            // An exception ends the stream: the answer is not complete, and the call is charged by estimate.
            streamException = message.eventType ?? "exception"
            return
        }
        switch (format, message.eventType) {
        case (.bedrockConverse, "contentBlockDelta"):
            relayedOutputTokens += Self.converseDeltas.count(in: message.payload)
        case (.bedrockConverse, "metadata"):
            if let object = ScannedObject(message.payload)?.object("usage"), let parsed = BedrockUsage.converse(from: object) {
                usage = parsed
                hasUsage = true
                hasFinalUsage = true
            }
            isComplete = true
        case (.bedrockInvoke, "chunk"):
            guard case .string(let encoded)? = ScannedObject(message.payload)?.members["bytes"]?.kind,
                let decoded = Data(base64Encoded: encoded)
            else { return }
            observeInvokeChunk(Array(decoded))
        default:
            break
        }
    }

    /// One decoded chunk of InvokeModelWithResponseStream: the model's own stream event (Anthropic's
    /// Messages events for Claude), the last with Bedrock's `amazon-bedrock-invocationMetrics`.
    private mutating func observeInvokeChunk(_ bytes: [UInt8]) {
        guard let object = ScannedObject(bytes) else { return }
        if case .string(let type)? = object.members["type"]?.kind {
            _ = observeAnthropic(SSEEvent(name: type, data: bytes))
        } else {
            relayedOutputTokens += Self.invokeDeltas.count(in: bytes)
        }
        if let metrics = object.object("amazon-bedrock-invocationMetrics") {
            // Anthropic's own counters say how much was cached; Bedrock's metrics count every other model.
            if !hasFinalUsage, let parsed = BedrockUsage.invocationMetrics(from: metrics) {
                usage = parsed
                hasUsage = true
                hasFinalUsage = true
            }
            isComplete = true
        }
    }

    /// Text a ConverseStream `contentBlockDelta` carries: text, tool input, reasoning.
    static let converseDeltas = DeltaTokens(keys: ["text", "input"])
    /// Text in other models' InvokeModel chunks: Llama's `generation`, Titan's `outputText`, Mistral's and
    /// others' `text`, OpenAI-shaped chunks' `content` (gpt-oss, Mistral Large 2).
    static let invokeDeltas = DeltaTokens(keys: ["generation", "outputText", "text", "completion", "content", "reasoning_content"])
}
