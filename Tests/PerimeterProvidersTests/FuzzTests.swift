import Foundation
import NIOCore
import PerimeterCore
import Testing

@testable import PerimeterProviders

/// Seeded fuzzing of everything that reads bytes from outside: the JSON scanner and request inspector
/// (client bodies), the SSE framer and the usage meters (provider answers). Random bytes, truncations
/// and mutations of real recordings, random chunkings, deep nesting and absurd numbers: no crash, no
/// trap, and what the meter keeps stays bounded. 100,000 cases in all, replayable from the seed.
@Suite struct FuzzTests {
    static let seeds: [String] = [
        #"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true,"n":2,"max_tokens":64,"tools":[{"type":"web_search"}],"stream_options":{"include_usage":false}}"#,
        #"{"model":"claude-haiku-4-5","max_tokens":1e308,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"u"}}]}]}"#,
        #"{"a":[1,-2.5e-300,1e400,true,false,null,"\u00e9\ud83d\ude00",{"b":{}}],"n":-0}"#,
    ]

    static func fixtures() throws -> [(UsageFormat, Bool, [UInt8])] {
        [
            (.openAIChat, false, try Fixture.bytes("openai-chat.json")),
            (.openAIChat, true, try Fixture.bytes("openai-chat-stream-usage.sse")),
            (.openAIResponses, false, try Fixture.bytes("openai-responses.json")),
            (.openAIResponses, true, try Fixture.bytes("openai-responses-stream.sse")),
            (.anthropic, false, try Fixture.bytes("anthropic-messages.json")),
            (.anthropic, true, try Fixture.bytes("anthropic-messages-stream.sse")),
        ]
    }

    /// One case: take a seed, then truncate it, flip bytes, splice in hostile pieces, or make it up.
    static func mutate(_ base: [UInt8], using generator: inout SeededGenerator) -> [UInt8] {
        let hostile: [[UInt8]] = [
            Array("1e99999".utf8), Array("-".utf8), Array("\"\\u".utf8), Array("\\".utf8), Array(repeating: UInt8(ascii: "["), count: 600),
            Array(repeating: UInt8(ascii: "{"), count: 300), Array("\"usage\":{\"prompt_tokens\":1e300,\"completion_tokens\":-5}".utf8),
            Array("data: ".utf8), Array("\n\n".utf8), Array("\r\n".utf8), Array("event: message_delta\n".utf8), [0, 0xFF, 0xC3],
            Array("\"n\":129".utf8), Array("\"max_tokens\":9e18".utf8),
        ]
        var bytes = base
        switch Int.random(in: 0..<6, using: &generator) {
        case 0:
            bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &generator)))
        case 1:
            for _ in 0..<Int.random(in: 1...8, using: &generator) where !bytes.isEmpty {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
        case 2:
            let piece = hostile[Int.random(in: 0..<hostile.count, using: &generator)]
            bytes.insert(contentsOf: piece, at: Int.random(in: 0...bytes.count, using: &generator))
        case 3:
            bytes = (0..<Int.random(in: 0...300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        case 4:
            let depth = Int.random(in: 1...2000, using: &generator)
            bytes = Array(repeating: UInt8(ascii: "["), count: depth) + Array(repeating: UInt8(ascii: "]"), count: depth)
        default:
            let cut = Int.random(in: 0...bytes.count, using: &generator)
            bytes = Array(bytes[cut...] + bytes[..<cut])
        }
        return bytes
    }

    @Test func requestBodiesNeverTrapTheInspector() {
        var generator = SeededGenerator(seed: 0xF00D)
        let seeds = Self.seeds.map { Array($0.utf8) }
        var refused = 0
        for index in 0..<50_000 {
            let body = Self.mutate(seeds[index % seeds.count], using: &generator)
            do {
                let (facts, members) = try RequestInspector.inspect(body)
                #expect(facts.choices >= 1 && facts.choices <= 128)
                #expect(facts.inputTokenCeiling >= body.count)
                if let limit = facts.maxOutputTokens { #expect(limit >= 0 && limit < 1_000_000_000) }
                _ = RequestInspector.requestingStreamUsage(body, members: members)
            } catch {
                refused += 1
            }
        }
        // Most mutations break the JSON, some do not: both paths ran.
        #expect(refused > 1_000 && refused < 50_000)
    }

    @Test func providerAnswersNeverTrapTheMetersAndTheirMemoryStaysBounded() throws {
        var generator = SeededGenerator(seed: 0xBEEF)
        let fixtures = try Self.fixtures()
        let price = try #require(PriceTable.builtIn(overriddenBy: [:]).price(for: "gpt-4o"))
        for index in 0..<50_000 {
            let (format, isStream, base) = fixtures[index % fixtures.count]
            let bytes = Self.mutate(base, using: &generator)
            var meter = UsageMeter(format: format, isStream: isStream, removesUsageChunk: index % 2 == 0)
            var offset = 0
            while offset < bytes.count {
                let size = Int.random(in: 1...max(1, bytes.count - offset), using: &generator)
                _ = meter.consume(ByteBuffer(bytes: bytes[offset..<offset + size]))
                offset += size
            }
            if index % 3 == 0 { _ = meter.finish() }
            let (usage, _) = meter.billableUsage(inputCeiling: 100)
            #expect(usage.inputTokens >= 0 && usage.outputTokens >= 0)
            #expect(price.cost(of: usage) >= .zero)
        }
    }

    @Test func anEventThatNeverEndsIsHandedOnInsteadOfHeld() {
        var framer = SSEFramer()
        var handedOut = 0
        let piece = Array(repeating: UInt8(ascii: "a"), count: 64 << 10)
        for _ in 0..<512 { framer.append(piece) { handedOut += $0.count } }  // 32 MiB, no blank line
        #expect(handedOut >= 32 << 20 - SSEFramer.maximumEventSize)
        #expect(framer.drain().count <= SSEFramer.maximumEventSize + piece.count)
        var meter = UsageMeter(format: .openAIChat, isStream: true)
        for _ in 0..<256 { _ = meter.consume(ByteBuffer(bytes: piece)) }
        let (usage, source) = meter.billableUsage(inputCeiling: 1)
        #expect(source == .estimated && usage.inputTokens == 1)
    }
}
