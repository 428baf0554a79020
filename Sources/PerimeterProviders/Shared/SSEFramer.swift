/// Splits a server-sent-events byte stream into whole events, whatever the chunk boundaries.
///
/// Holds only the bytes of the event in progress; each complete event is handed out with its original
/// bytes (terminator included) so a caller that forwards it changes nothing on the wire.
package struct SSEFramer: Sendable {
    private var pending: [UInt8] = []
    /// An "event" that grows past this without a blank line is handed out as it is, so a stream that
    /// never ends its event cannot make the gateway hold unbounded memory.
    static let maximumEventSize = 8 << 20

    package init() {}

    /// Appends `chunk` and calls `body` with each event it completes, in order.
    package mutating func append<Bytes: Collection<UInt8>>(_ chunk: Bytes, _ body: (ArraySlice<UInt8>) -> Void) {
        let searchFrom = max(0, pending.count - 3)
        pending.append(contentsOf: chunk)
        var eventStart = 0
        var index = searchFrom
        while index < pending.count {
            if pending[index] == 0x0A, let end = Self.blankLineEnd(pending, after: index) {
                body(pending[eventStart..<end])
                eventStart = end
                index = end
            } else {
                index += 1
            }
        }
        if pending.count - eventStart > Self.maximumEventSize {
            body(pending[eventStart...])
            eventStart = pending.count
        }
        if eventStart > 0 { pending.removeFirst(eventStart) }
    }

    /// The bytes of an unfinished event at the end of the stream, if any.
    package mutating func drain() -> [UInt8] {
        defer { pending = [] }
        return pending
    }

    package var hasPendingBytes: Bool { !pending.isEmpty }

    /// If the line feed at `index` is followed by an empty line (`\n` or `\r\n`), the end of that line.
    private static func blankLineEnd(_ bytes: [UInt8], after index: Int) -> Int? {
        let next = index + 1
        guard next < bytes.count else { return nil }
        if bytes[next] == 0x0A { return next + 1 }
        if bytes[next] == 0x0D, next + 1 < bytes.count, bytes[next + 1] == 0x0A { return next + 2 }
        return nil
    }
}

/// One parsed server-sent event: its `event:` name and its `data:` lines joined by `\n`.
package struct SSEEvent: Sendable, Hashable {
    package var name: String?
    package var data: [UInt8]

    package init(name: String?, data: [UInt8]) {
        self.name = name
        self.data = data
    }

    package init(parsing bytes: ArraySlice<UInt8>) {
        var name: String?
        var data: [UInt8] = []
        var hasData = false
        for rawLine in bytes.split(separator: 0x0A, omittingEmptySubsequences: true) {
            var line = rawLine
            if line.last == 0x0D { line = line.dropLast() }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon != line.startIndex else { continue }
            var value = line[(colon + 1)...]
            if value.first == 0x20 { value = value.dropFirst() }
            let field = line[..<colon]
            if field.elementsEqual("data".utf8) {
                if hasData { data.append(0x0A) }
                data.append(contentsOf: value)
                hasData = true
            } else if field.elementsEqual("event".utf8) {
                name = String(decoding: value, as: UTF8.self)
            }
        }
        self.init(name: name, data: data)
    }
}
