import Foundation
import NIOCore
import PerimeterCore
import Testing

@testable import PerimeterProviders

/// Gemini's wire format as the meter and the request inspector read it: usageMetadata in a whole
/// body, in server-sent events (`alt=sse`) and in the JSON-array stream, split at any byte.
@Suite struct GeminiTests {
    static let usage =
        #"{"promptTokenCount":120,"cachedContentTokenCount":100,"candidatesTokenCount":30,"thoughtsTokenCount":12,"toolUsePromptTokenCount":8,"totalTokenCount":170}"#
    static let expected = Usage(inputTokens: 128, cachedInputTokens: 100, outputTokens: 42)

    static func chunk(_ text: String, final: Bool, candidates: Int) -> String {
        let finish = final ? #","finishReason":"STOP""# : ""
        return
            #"{"candidates":[{"content":{"parts":[{"text":"\#(text)"}],"role":"model"}\#(finish),"index":0}],"usageMetadata":{"promptTokenCount":120,"cachedContentTokenCount":100,"candidatesTokenCount":\#(candidates),"thoughtsTokenCount":12,"toolUsePromptTokenCount":8},"modelVersion":"gemini-2.5-flash"}"#
    }

    /// The chunks of one answer: the last has the finish reason and the final counts.
    static let chunks = [
        chunk("Hello", final: false, candidates: 2), chunk(" there, \\\"finishReason\\\" in text", final: false, candidates: 10),
        chunk("!", final: true, candidates: 30),
    ]

    func run(_ meter: UsageMeter, _ bytes: [UInt8], chunkSize: Int) -> (UsageMeter, [UInt8]) {
        var meter = meter
        var forwarded: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let end = min(bytes.count, index + chunkSize)
            let piece = ByteBuffer(bytes: bytes[index..<end])
            forwarded.append(contentsOf: (meter.consume(piece) ?? piece).readableBytesView)
            index = end
        }
        if let rest = meter.finish() { forwarded.append(contentsOf: rest.readableBytesView) }
        return (meter, forwarded)
    }

    @Test(arguments: [1, 9, 100_000])
    func aWholeBodysUsageMetadata(chunkSize: Int) {
        let body = Array(
            #"{"candidates":[{"content":{"parts":[{"text":"hi"}]},"finishReason":"STOP"}],"usageMetadata":\#(Self.usage)}"#.utf8)
        let (meter, forwarded) = run(UsageMeter(format: .gemini, isStream: false), body, chunkSize: chunkSize)
        #expect(meter.usage == Self.expected && meter.hasFinalUsage)
        #expect(forwarded == body)
        #expect(meter.billableUsage(inputCeiling: 999) == (Self.expected, .provider))
    }

    @Test(arguments: [1, 7, 64, 100_000])
    func anSSEStreamIsMeteredFromItsLastChunk(chunkSize: Int) {
        let body = Array(Self.chunks.map { "data: \($0)\r\n\r\n" }.joined().utf8)
        let (meter, forwarded) = run(UsageMeter(format: .gemini, isStream: true), body, chunkSize: chunkSize)
        #expect(meter.usage == Self.expected && meter.hasFinalUsage && meter.isComplete)
        #expect(forwarded == body)
    }

    @Test(arguments: [1, 3, 50, 100_000])
    func theJSONArrayStreamIsSplitIntoItsElementsAtAnyByte(chunkSize: Int) {
        let body = Array(("[" + Self.chunks.joined(separator: "\r\n,\r\n") + "]").utf8)
        let (meter, forwarded) = run(UsageMeter(format: .gemini, isStream: false, isArrayStream: true), body, chunkSize: chunkSize)
        #expect(meter.usage == Self.expected && meter.hasFinalUsage)
        #expect(meter.relayedOutputTokens > 0)
        #expect(forwarded == body)
    }

    @Test func aStreamCutBeforeItsLastChunkIsEstimatedNeverBelowWhatItSaw() {
        let body = Array(("[" + Self.chunks.prefix(2).joined(separator: ",")).utf8)
        let (meter, _) = run(UsageMeter(format: .gemini, isStream: false, isArrayStream: true), body, chunkSize: 5)
        #expect(!meter.hasFinalUsage)
        let (billed, source) = meter.billableUsage(inputCeiling: 5000)
        #expect(source == .estimated)
        // The input the provider already reported, and at least the output counted so far.
        #expect(billed.inputTokens == 128 && billed.outputTokens >= 22)
    }

    @Test func embeddingsWithoutUsageAreChargedTheirInputOnly() {
        let body = Array(#"{"embeddings":[{"values":[0.1,0.2,0.3]}]}"#.utf8)
        let (meter, _) = run(UsageMeter(format: .geminiEmbeddings, isStream: false), body, chunkSize: 4)
        #expect(meter.billableUsage(inputCeiling: 300) == (Usage(inputTokens: 300), .estimated))
    }

    @Test func theRequestsLimitsAndToolsAreRead() throws {
        let body = Array(
            #"""
            {"contents":[{"role":"user","parts":[{"text":"hi"}]}],
             "generationConfig":{"maxOutputTokens":256,"candidateCount":2},
             "tools":[{"functionDeclarations":[{"name":"get_weather"},{"name":"book"}]},{"googleSearch":{}},{"codeExecution":{}}]}
            """#.utf8)
        let (facts, _) = try RequestInspector.inspect(body, kind: .gemini)
        #expect(facts.maxOutputTokens == 256 && facts.choices == 2)
        #expect(facts.hasTools && facts.toolNames == ["get_weather", "book", "googleSearch", "codeExecution"])
        #expect(facts.perUseFeatures == ["google_search"])
        #expect(facts.model == nil && !facts.isStream)
        // A tool config alone offers tools; an empty list does not.
        #expect(
            try RequestInspector.inspect(Array(#"{"toolConfig":{"functionCallingConfig":{"mode":"ANY"}}}"#.utf8), kind: .gemini).0.hasTools)
        #expect(try !RequestInspector.inspect(Array(#"{"tools":[]}"#.utf8), kind: .gemini).0.hasTools)
        #expect(throws: GatewayError.self) { try RequestInspector.inspect(Array(#"{"tools":{"a":1}}"#.utf8), kind: .gemini) }
        #expect(throws: GatewayError.self) {
            try RequestInspector.inspect(Array(#"{"generationConfig":{"candidateCount":1000}}"#.utf8), kind: .gemini)
        }
    }

    @Test func theDemoSpeaksWhatTheMeterReads() {
        let body = Array(#"{"contents":[{"parts":[{"text":"hello"}]}]}"#.utf8)
        let plain = DemoProvider.respond(to: .generate, kind: .gemini, facts: RequestFacts(model: "gemini-2.5-flash"), body: body)
        let streamed = DemoProvider.respond(
            to: .generate, kind: .gemini, facts: RequestFacts(model: "gemini-2.5-flash", isStream: true), body: body)
        var whole = UsageMeter(format: .gemini, isStream: false)
        for chunk in plain.chunks { _ = whole.consume(ByteBuffer(bytes: chunk)) }
        _ = whole.finish()
        var stream = UsageMeter(format: .gemini, isStream: true)
        for chunk in streamed.chunks { _ = stream.consume(ByteBuffer(bytes: chunk)) }
        _ = stream.finish()
        #expect(whole.hasFinalUsage && whole.usage.outputTokens > 0)
        #expect(stream.hasFinalUsage && stream.usage == whole.usage)
        // Without alt=sse, Gemini streams one JSON array, element by element.
        let array = DemoProvider.respond(
            to: .generate, kind: .gemini, facts: RequestFacts(model: "gemini-2.5-flash", isStream: true), body: body, eventStream: false)
        #expect(array.contentType == "application/json")
        let text = String(decoding: array.chunks.joined(), as: UTF8.self)
        #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8))) is [Any])
        var arrayMeter = UsageMeter(format: .gemini, isStream: false, isArrayStream: true)
        for chunk in array.chunks { _ = arrayMeter.consume(ByteBuffer(bytes: chunk)) }
        _ = arrayMeter.finish()
        #expect(arrayMeter.hasFinalUsage && arrayMeter.usage == whole.usage)
    }
}

extension GeminiTests {
    @Test func bothSpellingsAndReferencedInputCountTowardTheWorstCase() throws {
        let snake = Array(#"{"generation_config":{"max_output_tokens":100,"candidate_count":8},"tool_config":{},"stream":true,"n":3}"#.utf8)
        let (facts, _) = try RequestInspector.inspect(snake, kind: .gemini)
        // OpenAI's `stream` and `n` mean nothing here: the route decides streaming, candidate_count the answers.
        #expect(facts.maxOutputTokens == 100 && facts.choices == 8 && !facts.isStream && facts.hasTools)
        #expect(throws: GatewayError.self) {
            try RequestInspector.inspect(Array(#"{"generation_config":{"candidate_count":9}}"#.utf8), kind: .gemini)
        }
        // A video by URI, or a page the urlContext tool reads, may be a whole context of input.
        let video = Array(
            #"{"contents":[{"parts":[{"fileData":{"fileUri":"https://youtu.be/x"}}]}],"tools":[{"urlContext":{}},{"googleMaps":{}}]}"#.utf8)
        let (referenced, _) = try RequestInspector.inspect(video, kind: .gemini)
        #expect(referenced.inputTokenCeiling >= 2 * RequestInspector.geminiReferencedInputCeiling)
        #expect(referenced.perUseFeatures == ["google_maps"])
    }
}
