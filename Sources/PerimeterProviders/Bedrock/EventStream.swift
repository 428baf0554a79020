import PerimeterCore

/// One message of AWS's binary event stream (`application/vnd.amazon.eventstream`), as Bedrock's
/// ConverseStream and InvokeModelWithResponseStream send them:
///
///     total length (4) | headers length (4) | prelude CRC-32 (4) | headers | payload | message CRC-32 (4)
///
/// Integers are big-endian; the prelude CRC covers the first 8 bytes, the message CRC everything
/// before it. Each header is a 1-byte name length, the name, a 1-byte type and a typed value.
package struct EventStreamMessage: Sendable, Hashable {
    /// String-valued headers (`:event-type`, `:message-type`, `:content-type`, `:exception-type`);
    /// headers of other types are skipped.
    package var headers: [String: String]
    package var payload: [UInt8]

    package init(headers: [String: String], payload: [UInt8]) {
        self.headers = headers
        self.payload = payload
    }

    /// `:message-type`: `event`, `exception` or `error`.
    package var messageType: String? { headers[":message-type"] }
    /// `:event-type` of an event, `:exception-type` of an exception.
    package var eventType: String? { headers[":event-type"] ?? headers[":exception-type"] }

    /// This message on the wire, with string headers in name order and valid CRCs.
    package func encoded() -> [UInt8] {
        var headerBytes: [UInt8] = []
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) {
            headerBytes.append(UInt8(name.utf8.count))
            headerBytes += name.utf8
            headerBytes.append(7)
            headerBytes += Self.bigEndian(UInt16(value.utf8.count))
            headerBytes += value.utf8
        }
        let total = EventStreamFramer.preludeSize + headerBytes.count + payload.count + 4
        var out = Self.bigEndian(UInt32(total)) + Self.bigEndian(UInt32(headerBytes.count))
        out += Self.bigEndian(CRC32.checksum(out))
        out += headerBytes
        out += payload
        out += Self.bigEndian(CRC32.checksum(out))
        return out
    }

    private static func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian, Array.init)
    }
}

/// Splits an event stream into whole, checked messages as its bytes arrive, keeping only the message
/// being read. A value-type state machine: feed it bytes, get back the bytes of every message completed
/// (to forward as they came) and the messages themselves (to meter). Bytes of a message still incomplete
/// are held back, so a stream that breaks leaves the client at a message boundary, never inside one.
///
/// A message whose length is impossible or whose CRC does not match makes the stream corrupt: nothing
/// more is emitted, and the caller cuts the stream there.
package struct EventStreamFramer: Sendable {
    static let preludeSize = 12
    /// Bedrock's messages are far smaller; AWS's limit for one message is 16 MiB.
    static let maximumMessageSize = 16 << 20
    static let maximumHeadersSize = 128 << 10

    private var pending: [UInt8] = []
    package private(set) var isCorrupt = false
    /// Why the stream is corrupt, for the log.
    package private(set) var corruption: String?

    package init() {}

    /// True when bytes of an unfinished message are held.
    package var hasPartialMessage: Bool { !pending.isEmpty }

    /// Appends `bytes`; returns the raw bytes of the messages they completed, and those messages.
    package mutating func append(_ bytes: some Collection<UInt8>) -> (raw: [UInt8], messages: [EventStreamMessage]) {
        guard !isCorrupt else { return ([], []) }
        pending.append(contentsOf: bytes)
        var consumed = 0
        var messages: [EventStreamMessage] = []
        while pending.count - consumed >= Self.preludeSize {
            let start = consumed
            let total = Int(Self.uint32(pending, at: start))
            let headersLength = Int(Self.uint32(pending, at: start + 4))
            guard total >= Self.preludeSize + 4 + headersLength, total <= Self.maximumMessageSize,
                headersLength <= Self.maximumHeadersSize
            else { return fail("impossible message length \(total) with \(headersLength) bytes of headers", consumed: consumed, messages) }
            guard CRC32.checksum(pending[start..<start + 8]) == Self.uint32(pending, at: start + 8) else {
                return fail("prelude CRC mismatch", consumed: consumed, messages)
            }
            guard pending.count - start >= total else { break }
            let end = start + total
            guard CRC32.checksum(pending[start..<end - 4]) == Self.uint32(pending, at: end - 4) else {
                return fail("message CRC mismatch", consumed: consumed, messages)
            }
            let headersStart = start + Self.preludeSize
            guard let headers = Self.headers(pending[headersStart..<headersStart + headersLength]) else {
                return fail("malformed headers", consumed: consumed, messages)
            }
            messages.append(EventStreamMessage(headers: headers, payload: Array(pending[headersStart + headersLength..<end - 4])))
            consumed = end
        }
        let raw = Array(pending[..<consumed])
        pending.removeFirst(consumed)
        return (raw, messages)
    }

    private mutating func fail(_ reason: String, consumed: Int, _ messages: [EventStreamMessage]) -> (
        raw: [UInt8], messages: [EventStreamMessage]
    ) {
        // Messages completed before the bad one are still good; nothing after it is.
        isCorrupt = true
        corruption = reason
        let raw = Array(pending[..<consumed])
        pending = []
        return (raw, messages)
    }

    private static func uint32(_ bytes: [UInt8], at index: Int) -> UInt32 {
        bytes[index..<index + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// String headers by name; `nil` when a header runs past the end or has an unknown type.
    static func headers(_ bytes: ArraySlice<UInt8>) -> [String: String]? {
        var headers: [String: String] = [:]
        var index = bytes.startIndex
        func take(_ count: Int) -> ArraySlice<UInt8>? {
            guard count >= 0, bytes.endIndex - index >= count else { return nil }
            defer { index += count }
            return bytes[index..<index + count]
        }
        while index < bytes.endIndex {
            guard let nameLength = take(1)?.first, nameLength > 0, let name = take(Int(nameLength)), let type = take(1)?.first
            else { return nil }
            let fixed: [UInt8: Int] = [0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16]
            if let size = fixed[type] {
                guard take(size) != nil else { return nil }
                continue
            }
            guard type == 6 || type == 7, let lengthBytes = take(2) else { return nil }
            let length = Int(lengthBytes.first!) << 8 | Int(lengthBytes.last!)
            guard let value = take(length) else { return nil }
            if type == 7 { headers[String(decoding: name, as: UTF8.self)] = String(decoding: value, as: UTF8.self) }
        }
        return headers
    }
}
