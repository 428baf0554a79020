import Foundation
import NIOCore
import PerimeterCore
import Testing

@testable import PerimeterProviders

/// The demo provider must speak the same formats the meters read.
@Suite struct DemoProviderTests {
    func meter(_ response: DemoProvider.Response, format: UsageFormat, stream: Bool) -> UsageMeter {
        var meter = UsageMeter(format: format, isStream: stream)
        for chunk in response.chunks { _ = meter.consume(ByteBuffer(bytes: chunk)) }
        _ = meter.finish()
        return meter
    }

    @Test func chatAndStreamsReportTheSameUsage() {
        let body = Array(#"{"model":"gpt-4o-mini","messages":[]}"#.utf8)
        let plain = DemoProvider.respond(to: .chat, facts: RequestFacts(model: "gpt-4o-mini"), body: body)
        let streamed = DemoProvider.respond(
            to: .chat, facts: RequestFacts(model: "gpt-4o-mini", isStream: true, includesUsage: true), body: body)
        let plainUsage = meter(plain, format: .openAIChat, stream: false).usage
        let streamMeter = meter(streamed, format: .openAIChat, stream: true)
        #expect(plainUsage.outputTokens > 0)
        #expect(streamMeter.usage == plainUsage)
        #expect(streamMeter.isComplete)
    }

    @Test func anthropicStreamIsComplete() {
        let body = Array(#"{"model":"claude-haiku-4-5","max_tokens":5}"#.utf8)
        let streamed = DemoProvider.respond(
            to: .messages, facts: RequestFacts(model: "claude-haiku-4-5", isStream: true, maxOutputTokens: 5), body: body)
        let meter = meter(streamed, format: .anthropic, stream: true)
        #expect(meter.isComplete)
        #expect(meter.usage.outputTokens == 5)
    }
}
