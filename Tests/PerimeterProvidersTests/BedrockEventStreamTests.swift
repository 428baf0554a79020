import Foundation
import NIOCore
import PerimeterCore
import Testing

@testable import PerimeterProviders

/// AWS's binary event stream as Bedrock sends it: framed across any split, checked by both CRCs,
/// held back to whole messages, and metered from ConverseStream's `metadata` or InvokeModel's chunks.
@Suite struct BedrockEventStreamTests {
    /// aws-c-event-stream's "empty message" vector: a 16-byte message with no headers and no payload.
    static let emptyMessage: [UInt8] = [0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x05, 0xC2, 0x48, 0xEB, 0x7D, 0x98, 0xC8, 0xFF]

    func demo(_ operation: CallOperation, stream: Bool = true) -> [UInt8] {
        var facts = RequestFacts(model: "us.anthropic.claude-sonnet-4-20250514-v1:0")
        facts.isStream = stream
        return DemoProvider.respond(to: operation, kind: .bedrock, facts: facts, body: Array(#"{"messages":[]}"#.utf8)).chunks
            .flatMap { $0 }
    }

    @Test func thePublishedEmptyMessageFramesAndEncodes() {
        var framer = EventStreamFramer()
        let (raw, messages) = framer.append(Self.emptyMessage)
        #expect(raw == Self.emptyMessage && messages == [EventStreamMessage(headers: [:], payload: [])])
        #expect(EventStreamMessage(headers: [:], payload: []).encoded() == Self.emptyMessage)
    }

    @Test func everySplitGivesTheSameMessagesAndOnlyWholeOnes() {
        let bytes = demo(.converse)
        var whole = EventStreamFramer()
        let expected = whole.append(bytes).messages
        #expect(expected.count > 4 && expected.last?.eventType == "metadata")
        for split in stride(from: 1, to: bytes.count, by: 7) {
            var framer = EventStreamFramer()
            let first = framer.append(bytes[..<split])
            let second = framer.append(bytes[split...])
            #expect(first.raw + second.raw == bytes)
            #expect(first.messages + second.messages == expected)
            // What was emitted from the first part always ends at a message boundary.
            var check = EventStreamFramer()
            #expect(check.append(first.raw).raw == first.raw && !check.hasPartialMessage)
        }
    }

    @Test func aBadCRCOrLengthStopsTheStreamAfterTheLastGoodMessage() {
        let good = EventStreamMessage(headers: [":event-type": "a", ":message-type": "event"], payload: Array("{}".utf8)).encoded()
        for damage in [good.count - 1, 9, 20] {
            var bad = good
            bad[damage] ^= 0x01
            var framer = EventStreamFramer()
            let (raw, messages) = framer.append(good + bad + good)
            #expect(raw == good && messages.count == 1 && framer.isCorrupt, "byte \(damage)")
            #expect(framer.append(good).raw.isEmpty)
        }
        var huge = EventStreamFramer()
        let prelude: [UInt8] = [0x7F, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]
        let crc = CRC32.checksum(prelude)
        _ = huge.append(prelude + [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)])
        #expect(huge.isCorrupt)
    }

    @Test func converseStreamIsMeteredFromItsMetadata() {
        let bytes = demo(.converse)
        var meter = UsageMeter(format: .bedrockConverse, isStream: false, isBinaryStream: true)
        var forwarded: [UInt8] = []
        for start in stride(from: 0, to: bytes.count, by: 5) {
            forwarded += Array(meter.consume(ByteBuffer(bytes: bytes[start..<min(start + 5, bytes.count)]))!.readableBytesView)
        }
        #expect(meter.finish() == nil)
        #expect(forwarded == bytes && meter.isComplete && meter.hasFinalUsage)
        #expect(meter.usage.inputTokens > 0 && meter.usage.outputTokens > 0 && meter.relayedOutputTokens >= meter.usage.outputTokens)
    }

    @Test func aCutConverseStreamIsChargedWhatWasRelayed() {
        let bytes = demo(.converse)
        var meter = UsageMeter(format: .bedrockConverse, isStream: false, isBinaryStream: true)
        let cut = bytes.count * 2 / 3
        let forwarded = meter.consume(ByteBuffer(bytes: bytes[..<cut]))!
        #expect(forwarded.readableBytes < cut && !meter.isComplete && !meter.hasFinalUsage)
        let (usage, source) = meter.billableUsage(inputCeiling: 500)
        #expect(source == .estimated && usage.inputTokens == 500 && usage.outputTokens >= 2)
    }

    @Test func invokeStreamIsMeteredFromTheAnthropicEventsInItsChunks() {
        var meter = UsageMeter(format: .bedrockInvoke, isStream: false, isBinaryStream: true)
        _ = meter.consume(ByteBuffer(bytes: demo(.invoke)))
        #expect(meter.isComplete && meter.hasFinalUsage && meter.usage.outputTokens > 0 && meter.usage.inputTokens > 0)
        // Another model's chunks: Bedrock's invocation metrics count.
        let chunk =
            #"{"generation":"hi","amazon-bedrock-invocationMetrics":{"inputTokenCount":7,"outputTokenCount":3,"cacheReadInputTokenCount":2}}"#
        let message = EventStreamMessage(
            headers: [":event-type": "chunk", ":message-type": "event"],
            payload: Array(#"{"bytes":"\#(Data(chunk.utf8).base64EncodedString())"}"#.utf8))
        var llama = UsageMeter(format: .bedrockInvoke, isStream: false, isBinaryStream: true)
        _ = llama.consume(ByteBuffer(bytes: message.encoded()))
        #expect(llama.usage == Usage(inputTokens: 9, cachedInputTokens: 2, outputTokens: 3) && llama.hasFinalUsage)
    }

    @Test func anExceptionMessageLeavesTheCallIncomplete() {
        var meter = UsageMeter(format: .bedrockConverse, isStream: false, isBinaryStream: true)
        let exception = EventStreamMessage(
            headers: [":exception-type": "throttlingException", ":message-type": "exception"], payload: Array("{}".utf8))
        _ = meter.consume(ByteBuffer(bytes: exception.encoded()))
        #expect(meter.streamException == "throttlingException" && !meter.isComplete)
    }

    @Test func converseAndInvokeBodiesAndHeaders() throws {
        var converse = UsageMeter(format: .bedrockConverse, isStream: false)
        _ = converse.consume(
            ByteBuffer(
                string: #"{"output":{},"usage":{"inputTokens":10,"outputTokens":4,"cacheReadInputTokens":3,"cacheWriteInputTokens":2}}"#))
        _ = converse.finish()
        #expect(converse.usage == Usage(inputTokens: 15, cachedInputTokens: 3, cacheWriteTokens: 2, outputTokens: 4))
        // A body without usage of its own (Llama): the token-count headers.
        var invoke = UsageMeter(format: .bedrockInvoke, isStream: false)
        invoke.headerUsage = Usage(inputTokens: 12, outputTokens: 5)
        _ = invoke.consume(ByteBuffer(string: #"{"generation":"hi","prompt_token_count":12}"#))
        _ = invoke.finish()
        #expect(invoke.usage == Usage(inputTokens: 12, outputTokens: 5) && invoke.hasFinalUsage)
    }

    func inspect(_ json: String, model: String = "us.anthropic.claude-sonnet-4-20250514-v1:0", _ operation: CallOperation = .converse)
        throws -> RequestFacts
    {
        try RequestInspector.inspect(Array(json.utf8), kind: .bedrock, model: model, operation: operation).0
    }

    @Test func requestsNameTheirLimitsAndTools() throws {
        let converse = try inspect(
            #"{"messages":[],"inferenceConfig":{"maxTokens":300},"additionalModelRequestFields":{"max_tokens":900},"toolConfig":{"tools":[{"toolSpec":{"name":"lookup"}},{"cachePoint":{"type":"default"}}]}}"#
        )
        #expect(converse.maxOutputTokens == 900 && converse.hasTools && converse.toolNames == ["lookup"] && !converse.isStream)
        // A limit under a name the model does not read never shrinks the worst case.
        #expect(try inspect(#"{"messages":[],"max_tokens":1}"#).maxOutputTokens == nil)
        #expect(try inspect(#"{"messages":[],"additionalModelRequestFields":{"max_tokens":1}}"#).maxOutputTokens == nil)
        let llama = "meta.llama3-3-70b-instruct-v1:0"
        #expect(try inspect(#"{"prompt":"x","max_gen_len":64,"stream":true}"#, model: llama, .invoke).maxOutputTokens == 64)
        #expect(try inspect(#"{"prompt":"x","max_tokens":1}"#, model: llama, .invoke).maxOutputTokens == nil)
        #expect(
            try inspect(#"{"max_tokens":7,"max_gen_len":1}"#, model: "anthropic.claude-3-haiku-20240307-v1:0", .invoke).maxOutputTokens == 7
        )
        #expect(try inspect(#"{"inferenceConfig":{"max_new_tokens":9}}"#, model: "amazon.nova-pro-v1:0", .invoke).maxOutputTokens == 9)
        #expect(throws: GatewayError.self) { try inspect(#"{"toolConfig":[1]}"#) }
    }

    @Test func toolsAndBilledOptionsAnywhereInTheRequestAreSeen() throws {
        // Tools handed to Claude through additionalModelRequestFields count as tools.
        let computer = try inspect(
            #"{"messages":[],"additionalModelRequestFields":{"tools":[{"type":"computer_20250124","name":"computer"},{"type":"web_search_20250305","name":"web_search"}]}}"#
        )
        #expect(
            computer.hasTools && computer.toolNames == ["computer", "web_search"] && computer.perUseFeatures == ["web_search_20250305"])
        #expect(try inspect(#"{"messages":[],"additionalModelRequestFields":{"tool_choice":{"type":"any"}}}"#).hasTools)
        // Billed beyond tokens: refused to budgeted keys by the admission.
        let billed = try inspect(
            #"{"messages":[],"serviceTier":{"type":"priority"},"performanceConfig":{"latency":"optimized"},"guardrailConfig":{"guardrailIdentifier":"g"},"toolConfig":{"tools":[{"systemTool":{"name":"nova_grounding"}}]}}"#
        )
        #expect(
            billed.perUseFeatures == [
                "bedrock_service_tier_priority", "bedrock_latency_optimized", "bedrock_guardrail", "bedrock_system_tool_nova_grounding",
            ])
        #expect(
            try inspect(#"{"messages":[],"serviceTier":{"type":"default"},"performanceConfig":{"latency":"standard"}}"#).perUseFeatures
                .isEmpty)
    }

    @Test func anthropicMessagesGoToBedrockAndComeBackInAnthropicsShapes() throws {
        let body = try AnthropicOnBedrock.requestBody(
            Array(#"{"model":"claude-sonnet-4-5","stream":true,"max_tokens":5,"messages":[]}"#.utf8), betas: ["b-1", "b-2"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        #expect(object["model"] == nil && object["stream"] == nil && object["max_tokens"] as? Int == 5)
        #expect(object["anthropic_version"] as? String == "bedrock-2023-05-31" && object["anthropic_beta"] as? [String] == ["b-1", "b-2"])
        #expect(throws: GatewayError.self) { try AnthropicOnBedrock.requestBody(Array("[1]".utf8), betas: []) }

        // The stream: each chunk's event under its own name, Bedrock's metrics removed; metered all the same.
        var meter = UsageMeter(format: .bedrockInvoke, isStream: false, isBinaryStream: true, translatesToServerSentEvents: true)
        let sse = String(buffer: meter.consume(ByteBuffer(bytes: demo(.invoke)))!)
        #expect(sse.hasPrefix("event: message_start\ndata: {") && sse.contains("event: message_stop\ndata: "))
        #expect(!sse.contains("invocationMetrics") && sse.hasSuffix("\n\n"))
        #expect(meter.hasFinalUsage && meter.isComplete && meter.usage.outputTokens > 0)
        let events = sse.split(separator: "\n\n").map { SSEEvent(parsing: ArraySlice($0.utf8)) }
        #expect(events.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.data))) != nil })

        let error = AnthropicOnBedrock.errorBody(Array(#"{"message":"slow down"}"#.utf8), status: 429)
        #expect(String(decoding: error, as: UTF8.self) == #"{"error":{"message":"slow down","type":"rate_limit_error"},"type":"error"}"#)
    }

    @Test func bedrockIdsArePricedAsTheModelTheyName() {
        let prices = PriceTable.builtIn()
        #expect(prices.price(for: "us.anthropic.claude-sonnet-4-20250514-v1:0") == prices.price(for: "claude-sonnet-4"))
        #expect(prices.price(for: "anthropic.claude-3-5-haiku-20241022-v1:0") == prices.price(for: "claude-3-5-haiku"))
        #expect(prices.price(for: "amazon.nova-pro-v1:0")?.input == 0.80)
        #expect(prices.price(for: "eu.amazon.nova-lite-v1:0")?.input == 0.06)
        #expect(prices.price(for: "meta.llama3-3-70b-instruct-v1:0")?.output == 0.72)
        #expect(prices.price(for: "anthropic.claude-unknown-v1:0") == nil)
        #expect(OutputCeiling.maximumOutputTokens(for: "us.anthropic.claude-3-5-haiku-20241022-v1:0") == 8_192)
        #expect(OutputCeiling.maximumOutputTokens(for: "amazon.titan-embed-text-v2:0") == 0)
    }
}
