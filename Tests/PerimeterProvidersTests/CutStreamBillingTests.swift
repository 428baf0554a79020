import Foundation
import NIOCore
import PerimeterCore
import Testing

@testable import PerimeterProviders

/// A stream can end anywhere: the client leaves, the provider cuts it. For every cut point of every
/// recorded stream, in several chunkings, what the meter bills is at least the list price of what was
/// relayed up to the cut, and once the provider's final usage has passed, exactly that.
@Suite struct CutStreamBillingTests {
    static let price = ModelPrice(input: 3, output: 1000)

    /// Text deltas in the complete events of `bytes`, counted independently of the meter, through
    /// JSONSerialization: one token each (each recorded chunk carries one token).
    static func relayedDeltas(_ bytes: ArraySlice<UInt8>, format: UsageFormat) -> Int {
        let text = String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
        var events = text.components(separatedBy: "\n\n")
        events.removeLast()  // the part after the last blank line is not a complete event
        var count = 0
        for event in events {
            let lines = event.split(separator: "\n")
            guard let dataLine = lines.first(where: { $0.hasPrefix("data:") }) else { continue }
            let data = dataLine.dropFirst(5).trimmingCharacters(in: .whitespaces)
            guard let object = (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any] else { continue }
            func nonEmpty(_ value: Any?) -> Bool { (value as? String).map { !$0.isEmpty } ?? false }
            switch format {
            case .openAIChat:
                for choice in object["choices"] as? [[String: Any]] ?? [] {
                    let delta = choice["delta"] as? [String: Any] ?? [:]
                    if nonEmpty(delta["content"]) || nonEmpty(delta["refusal"]) { count += 1 }
                    for call in delta["tool_calls"] as? [[String: Any]] ?? [] {
                        if nonEmpty((call["function"] as? [String: Any])?["arguments"]) { count += 1 }
                    }
                }
            case .openAIResponses:
                if (object["type"] as? String)?.hasSuffix(".delta") == true, nonEmpty(object["delta"]) { count += 1 }
            case .anthropic:
                if object["type"] as? String == "content_block_delta" {
                    let delta = object["delta"] as? [String: Any] ?? [:]
                    if nonEmpty(delta["text"]) || nonEmpty(delta["partial_json"]) || nonEmpty(delta["thinking"]) { count += 1 }
                }
            case .gemini, .geminiEmbeddings:
                for candidate in object["candidates"] as? [[String: Any]] ?? [] {
                    let parts = (candidate["content"] as? [String: Any])?["parts"] as? [[String: Any]] ?? []
                    count += parts.filter { nonEmpty($0["text"]) }.count
                }
            case .none, .bedrockConverse, .bedrockInvoke: break
            }
        }
        return count
    }

    @Test(arguments: [
        ("openai-chat-stream-usage.sse", UsageFormat.openAIChat), ("openai-responses-stream.sse", .openAIResponses),
        ("anthropic-messages-stream.sse", .anthropic), ("anthropic-messages-stream-cut.sse", .anthropic),
    ])
    func everyCutIsChargedAtLeastWhatWasRelayed(fixture: String, format: UsageFormat) throws {
        let bytes = try Fixture.bytes(fixture)
        var complete = UsageMeter(format: format, isStream: true)
        for chunk in Fixture.chunks(bytes, size: 64) { _ = complete.consume(chunk) }
        _ = complete.finish()
        // What a provider reported at the end, or (for the cut recording) at least its input.
        let finalInput = complete.usage.inputTokens > 0 ? complete.usage.inputTokens : 1000
        var generator = SeededGenerator(seed: 0x5eed)
        var sawContentCharged = false
        for cut in 0...bytes.count {
            let relayed = Self.relayedDeltas(bytes[..<cut], format: format)
            for chunking in 0..<3 {
                var meter = UsageMeter(format: format, isStream: true)
                var offset = 0
                while offset < cut {
                    let size = chunking == 0 ? cut - offset : Int.random(in: 1...max(1, (cut - offset)), using: &generator)
                    _ = meter.consume(ByteBuffer(bytes: bytes[offset..<offset + size]))
                    offset += size
                }
                let (usage, source) = meter.billableUsage(inputCeiling: finalInput)
                let floor = Usage(inputTokens: finalInput, outputTokens: relayed)
                #expect(usage.outputTokens >= relayed, "\(fixture) cut at \(cut)")
                #expect(usage.inputTokens >= finalInput || source == .provider, "\(fixture) cut at \(cut)")
                #expect(Self.price.cost(of: usage) >= Self.price.cost(of: floor) || source == .provider, "\(fixture) cut at \(cut)")
                if source == .provider {
                    #expect(usage == complete.usage, "\(fixture) cut at \(cut)")
                    #expect(complete.hasFinalUsage)
                }
                if relayed > 0 {
                    #expect(Self.price.cost(of: usage) > .zero, "\(fixture) cut at \(cut)")
                    sawContentCharged = true
                }
            }
        }
        #expect(sawContentCharged)
    }

    @Test func aStreamCutBeforeAnyContentStillPaysForItsInput() {
        let meter = UsageMeter(format: .openAIChat, isStream: true)
        let (usage, source) = meter.billableUsage(inputCeiling: 420)
        #expect(usage == Usage(inputTokens: 420))
        #expect(source == .estimated)
    }

    @Test func aJSONBodyWithoutUsageIsEstimatedFromItsBytes() {
        var meter = UsageMeter(format: .openAIChat, isStream: false)
        _ = meter.consume(ByteBuffer(string: #"{"id":"x","choices":[{"message":{"content":"twelve bytes"}}]"#))
        let (usage, source) = meter.billableUsage(inputCeiling: 10)
        #expect(source == .estimated)
        #expect(usage.inputTokens == 10 && usage.outputTokens > 0)
    }
}

/// A small deterministic generator (SplitMix64), so a failing cut can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
