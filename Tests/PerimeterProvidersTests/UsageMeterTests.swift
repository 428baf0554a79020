import NIOCore
import PerimeterCore
import Testing

@testable import PerimeterProviders

@Suite struct UsageMeterTests {
    /// Feeds `bytes` to a meter in chunks of `size` and returns the meter and what the client got.
    func run(_ meter: UsageMeter, _ bytes: [UInt8], chunkSize: Int) -> (UsageMeter, [UInt8]) {
        var meter = meter
        var forwarded: [UInt8] = []
        for chunk in Fixture.chunks(bytes, size: chunkSize) {
            let out = meter.consume(chunk) ?? chunk
            forwarded.append(contentsOf: out.readableBytesView)
        }
        if let rest = meter.finish() { forwarded.append(contentsOf: rest.readableBytesView) }
        return (meter, forwarded)
    }

    @Test(arguments: [1, 7, 64, 100_000])
    func openAIChatJSON(chunkSize: Int) throws {
        let body = try Fixture.bytes("openai-chat.json")
        let (meter, forwarded) = run(UsageMeter(format: .openAIChat, isStream: false), body, chunkSize: chunkSize)
        #expect(meter.usage == Usage(inputTokens: 1219, cachedInputTokens: 1024, outputTokens: 17))
        #expect(meter.hasUsage && meter.isComplete)
        #expect(forwarded == body)
    }

    @Test(arguments: [1, 5, 33, 100_000])
    func openAIChatStreamKeepsEveryByteWhenTheClientAskedForUsage(chunkSize: Int) throws {
        let body = try Fixture.bytes("openai-chat-stream-usage.sse")
        let (meter, forwarded) = run(UsageMeter(format: .openAIChat, isStream: true), body, chunkSize: chunkSize)
        #expect(meter.usage == Usage(inputTokens: 9, outputTokens: 2))
        #expect(meter.isComplete)
        #expect(forwarded == body)
    }

    @Test(arguments: [1, 13, 100_000])
    func openAIChatStreamRemovesTheInjectedUsageChunk(chunkSize: Int) throws {
        let body = try Fixture.bytes("openai-chat-stream-usage.sse")
        let (meter, forwarded) = run(
            UsageMeter(format: .openAIChat, isStream: true, removesUsageChunk: true), body, chunkSize: chunkSize)
        #expect(meter.usage == Usage(inputTokens: 9, outputTokens: 2))
        let text = String(decoding: forwarded, as: UTF8.self)
        #expect(!text.contains(#""choices":[]"#))
        #expect(!text.contains(#""prompt_tokens""#))
        #expect(text.contains(#"" there""#))
        #expect(text.hasSuffix("data: [DONE]\n\n"))
        // Exactly one event fewer than upstream sent.
        let upstreamEvents = String(decoding: body, as: UTF8.self).components(separatedBy: "\n\n").count
        #expect(text.components(separatedBy: "\n\n").count == upstreamEvents - 1)
    }

    @Test func openAIStreamWithoutDoneIsIncomplete() throws {
        let body = Array(try Fixture.bytes("openai-chat-stream-usage.sse").prefix(600))
        let (meter, _) = run(UsageMeter(format: .openAIChat, isStream: true), body, chunkSize: 50)
        #expect(!meter.isComplete)
        #expect(!meter.hasUsage)
    }

    @Test(arguments: [1, 17, 100_000])
    func openAIResponsesJSONAndStream(chunkSize: Int) throws {
        let json = try Fixture.bytes("openai-responses.json")
        let (jsonMeter, _) = run(UsageMeter(format: .openAIResponses, isStream: false), json, chunkSize: chunkSize)
        #expect(jsonMeter.usage == Usage(inputTokens: 36, outputTokens: 87))

        let stream = try Fixture.bytes("openai-responses-stream.sse")
        let (streamMeter, forwarded) = run(UsageMeter(format: .openAIResponses, isStream: true), stream, chunkSize: chunkSize)
        #expect(streamMeter.usage == Usage(inputTokens: 37, cachedInputTokens: 12, outputTokens: 11))
        #expect(streamMeter.isComplete)
        #expect(forwarded == stream)
    }

    @Test func embeddings() throws {
        let (meter, _) = run(UsageMeter(format: .openAIChat, isStream: false), try Fixture.bytes("openai-embeddings.json"), chunkSize: 40)
        #expect(meter.usage == Usage(inputTokens: 8, outputTokens: 0))
    }

    @Test func anthropicJSONAddsCacheTokensToInput() throws {
        let (meter, _) = run(UsageMeter(format: .anthropic, isStream: false), try Fixture.bytes("anthropic-messages.json"), chunkSize: 9)
        #expect(meter.usage == Usage(inputTokens: 2095 + 2051 + 1800, cachedInputTokens: 1800, cacheWriteTokens: 2051, outputTokens: 503))
    }

    @Test(arguments: [1, 3, 64, 100_000])
    func anthropicStreamTakesTheLastCumulativeOutputCount(chunkSize: Int) throws {
        let body = try Fixture.bytes("anthropic-messages-stream.sse")
        let (meter, forwarded) = run(UsageMeter(format: .anthropic, isStream: true), body, chunkSize: chunkSize)
        // 89 is the last message_delta's cumulative count; summing would give 2 + 40 + 89.
        #expect(meter.usage == Usage(inputTokens: 472 + 128, cachedInputTokens: 128, outputTokens: 89))
        #expect(meter.isComplete)
        #expect(forwarded == body)
    }

    @Test func anthropicCutStreamKeepsWhatWasSeen() throws {
        let body = try Fixture.bytes("anthropic-messages-stream-cut.sse")
        let (meter, forwarded) = run(UsageMeter(format: .anthropic, isStream: true), body, chunkSize: 100)
        #expect(!meter.isComplete)
        #expect(meter.usage == Usage(inputTokens: 600, cachedInputTokens: 128, outputTokens: 2))
        #expect(forwarded == body)
    }

    @Test func largeBodiesAreMeteredFromTheirTail() throws {
        // An embeddings answer bigger than the parse limit: usage is still found at the end.
        var body = Array(#"{"object":"list","data":[{"embedding":["#.utf8)
        let number = Array("0.0123456789,".utf8)
        while body.count <= UsageMeter.maximumParsedBodySize { body += number }
        body += Array(#"0.1]}],"model":"text-embedding-3-large","usage":{"prompt_tokens":4096,"total_tokens":4096}}"#.utf8)
        var meter = UsageMeter(format: .openAIChat, isStream: false)
        for chunk in Fixture.chunks(body, size: 1 << 20) { _ = meter.consume(chunk) }
        _ = meter.finish()
        #expect(meter.usage.inputTokens == 4096)
    }

    @Test func formatNoneMetersNothingAndPassesEverything() {
        var meter = UsageMeter(format: .none, isStream: false)
        #expect(meter.consume(ByteBuffer(string: #"{"input_tokens": 12}"#)) == nil)
        _ = meter.finish()
        #expect(!meter.hasUsage)
    }
}
