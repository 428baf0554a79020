import NIOCore
import PerimeterCore

/// Reads a call's usage from its response body as the body passes through, chunk by chunk.
///
/// A value-type state machine: the gateway feeds it each chunk on its way to the client and asks it
/// at the end (or when the stream breaks) what it saw. JSON bodies are copied aside for one parse at
/// the end; SSE streams are framed into events and only events that can carry usage are parsed.
///
/// When the gateway asked upstream for an OpenAI usage chunk the client did not request, the meter
/// also removes that chunk: ``consume(_:)`` then returns the bytes to forward instead of `nil`.
public struct UsageMeter: Sendable {
    public let format: UsageFormat
    public let isStream: Bool
    public let removesUsageChunk: Bool
    /// A stream sent as one JSON array (Gemini without `alt=sse`) rather than server-sent events.
    public let isArrayStream: Bool
    /// AWS's binary event stream (Bedrock): only whole, checked messages are passed on.
    public let isBinaryStream: Bool
    /// An InvokeModel stream for an Anthropic client: passed on as Anthropic's server-sent events.
    public let translatesToServerSentEvents: Bool
    /// Usage the provider reported in the answer's headers (Bedrock's `x-amzn-bedrock-*-token-count`):
    /// what a whole body is charged when it carries no usage of its own.
    public var headerUsage: Usage?
    /// The exception an event stream ended with (Bedrock's `:exception-type`), if any.
    public internal(set) var streamException: String?

    public internal(set) var usage = Usage.zero
    public internal(set) var hasUsage = false
    /// True once the body reached its natural end: a whole JSON body, or the stream's final event.
    public internal(set) var isComplete = false
    /// True once the provider has reported the call's whole usage (a JSON body's `usage`, the stream's
    /// usage chunk, Anthropic's `message_delta`); until then ``usage`` may be partial or empty.
    public internal(set) var hasFinalUsage = false
    /// Output tokens counted from the text relayed so far (see ``DeltaTokens``): what a call that ends
    /// without its usage is charged for at least.
    public internal(set) var relayedOutputTokens = 0
    /// Bytes of a JSON body seen so far.
    public internal(set) var bodyBytes = 0

    private var framer = SSEFramer()
    private var arrayFramer = JSONArrayFramer()
    var eventFramer = EventStreamFramer()
    var anthropic = AnthropicUsageCounters()
    private var body: [UInt8] = []
    private var tail: [UInt8] = []
    private var bodyOverflowed = false

    /// Bodies larger than this are metered from their last 64 KiB, where providers put `usage`.
    static let maximumParsedBodySize = 16 << 20
    static let tailSize = 64 << 10

    public init(
        format: UsageFormat, isStream: Bool, removesUsageChunk: Bool = false, isArrayStream: Bool = false, isBinaryStream: Bool = false,
        translatesToServerSentEvents: Bool = false
    ) {
        self.translatesToServerSentEvents = isBinaryStream && translatesToServerSentEvents
        self.format = format
        self.isStream = isStream || isArrayStream || isBinaryStream
        self.isArrayStream = isArrayStream
        self.isBinaryStream = isBinaryStream
        self.removesUsageChunk = isStream && removesUsageChunk
    }

    /// True when what reaches the client is not the upstream's bytes as they came (a removed usage
    /// chunk, an event stream held back to message boundaries), so no upstream length applies.
    public var reframesBody: Bool { removesUsageChunk || isBinaryStream }

    /// True when an event stream broke its framing (a bad CRC or length): nothing more may be forwarded.
    public var isCorrupt: Bool { eventFramer.isCorrupt }

    /// Feeds one chunk. Returns `nil` when the chunk goes to the client unchanged, or the bytes to send
    /// in its place when this meter removes the injected usage chunk.
    public mutating func consume(_ chunk: ByteBuffer) -> ByteBuffer? {
        if isBinaryStream { return consumeEventStream(chunk) }
        guard format != .none else { return nil }
        if !isStream {
            bodyBytes += chunk.readableBytes
            appendBody(chunk.readableBytesView)
            return nil
        }
        if isArrayStream {
            var elements: [ArraySlice<UInt8>] = []
            arrayFramer.append(chunk.readableBytesView) { elements.append($0) }
            for element in elements { observeGemini(element) }
            return nil
        }
        var events: [ArraySlice<UInt8>] = []
        framer.append(chunk.readableBytesView) { events.append($0) }
        var kept: [UInt8] = []
        for eventBytes in events where observe(event: eventBytes) && removesUsageChunk {
            kept.append(contentsOf: eventBytes)
        }
        return removesUsageChunk ? ByteBuffer(bytes: kept) : nil
    }

    /// Call at the end of the body. Returns bytes still to forward (an unterminated last event).
    public mutating func finish() -> ByteBuffer? {
        if !isStream {
            if format != .none { parseWholeBody() }
            isComplete = true
            return nil
        }
        // A message the stream broke off inside is never forwarded.
        if isArrayStream || isBinaryStream { return nil }
        let rest = framer.drain()
        guard !rest.isEmpty else { return nil }
        // A final event without its blank line still counts; its bytes go out as they came.
        _ = observe(event: rest[...])
        return removesUsageChunk ? ByteBuffer(bytes: rest) : nil
    }

    // MARK: Streams

    /// Meters one event; returns false when the event must not reach the client.
    private mutating func observe(event bytes: ArraySlice<UInt8>) -> Bool {
        let event = SSEEvent(parsing: bytes)
        switch format {
        case .openAIChat: return observeOpenAIChat(event)
        case .openAIResponses: return observeOpenAIResponses(event)
        case .anthropic: return observeAnthropic(event)
        case .gemini, .geminiEmbeddings:
            observeGemini(event.data)
            return true
        case .none, .bedrockConverse, .bedrockInvoke: return true
        }
    }

    // MARK: JSON bodies

    private mutating func appendBody(_ bytes: ByteBufferView) {
        if !bodyOverflowed, body.count + bytes.count <= Self.maximumParsedBodySize {
            body.append(contentsOf: bytes)
            return
        }
        if !bodyOverflowed {
            bodyOverflowed = true
            tail = Array(body.suffix(Self.tailSize))
            body = []
        }
        tail.append(contentsOf: bytes)
        if tail.count > 2 * Self.tailSize { tail.removeFirst(tail.count - Self.tailSize) }
    }

    private mutating func parseWholeBody() {
        let usageObject =
            bodyOverflowed ? Self.usageMember(inTail: tail, named: format.usageMember) : ScannedObject(body)?.object(format.usageMember)
        body = []
        tail = []
        guard let parsed = usageObject.flatMap(format.usage(from:)) ?? headerUsage else { return }
        usage = parsed
        hasUsage = true
        hasFinalUsage = true
    }

    /// The last top-level-looking `"usage": {...}` object in `tail`. Inside a JSON string the quotes
    /// around `usage` would be escaped, so an unescaped `"usage"` is a member name.
    static func usageMember(inTail tail: [UInt8], named name: String = "usage") -> ScannedObject? {
        let needle = Array("\"\(name)\"".utf8)
        guard tail.count >= needle.count else { return nil }
        var start = tail.count - needle.count
        while start >= 0 {
            if tail[start..<start + needle.count].elementsEqual(needle) { break }
            start -= 1
        }
        guard start >= 0, let open = tail[(start + needle.count)...].firstIndex(of: UInt8(ascii: "{")) else {
            return nil
        }
        var depth = 0
        for index in open..<tail.count {
            if tail[index] == UInt8(ascii: "{") { depth += 1 }
            if tail[index] == UInt8(ascii: "}") {
                depth -= 1
                if depth == 0 { return ScannedObject(tail[open...index]) }
            }
        }
        return nil
    }
}
