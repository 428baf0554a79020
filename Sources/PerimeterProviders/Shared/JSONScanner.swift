/// A single-pass scanner over a JSON document that validates its whole structure but decodes only the
/// top-level members a caller asks for, recording where each member's value sits in the bytes.
///
/// The gateway reads a request body once to learn its model, stream flag, tools and token limits; a
/// full `JSONSerialization` parse would build a dictionary of every message just to throw it away.
package struct JSONScanner {
    package struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        package var message: String
        package var offset: Int
        package var description: String { "\(message) at byte \(offset)" }
    }

    /// A top-level member's value: its kind and its byte range in the document.
    package struct Member: Sendable, Hashable {
        package enum Kind: Sendable, Hashable { case string(String), number(Double?), bool(Bool), null, object, array(isEmpty: Bool) }
        package var kind: Kind
        package var range: Range<Int>
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0
    private static let maximumDepth = 256

    /// Scans `bytes`, which must hold one JSON object, and returns its top-level members by name.
    /// A name that appears twice keeps its last value, as most JSON parsers (and the providers) do.
    package static func topLevelMembers(of bytes: UnsafeBufferPointer<UInt8>) throws(Failure) -> [String: Member] {
        var scanner = JSONScanner(bytes: bytes)
        return try scanner.scanDocument()
    }

    package static func topLevelMembers(of bytes: [UInt8]) throws(Failure) -> [String: Member] {
        try bytes.withUnsafeBufferPointer { (buffer) throws(Failure) in try topLevelMembers(of: buffer) }
    }

    private init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    private mutating func scanDocument() throws(Failure) -> [String: Member] {
        skipWhitespace()
        guard peek() == UInt8(ascii: "{") else { throw failure("expected a JSON object") }
        index += 1
        var members: [String: Member] = [:]
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            index += 1
        } else {
            while true {
                skipWhitespace()
                guard peek() == UInt8(ascii: "\"") else { throw failure("expected a member name") }
                let name = try scanString()
                skipWhitespace()
                guard peek() == UInt8(ascii: ":") else { throw failure("expected ':' after a member name") }
                index += 1
                skipWhitespace()
                let start = index
                let kind = try scanTopLevelValue()
                members[name] = Member(kind: kind, range: start..<index)
                skipWhitespace()
                if peek() == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                guard peek() == UInt8(ascii: "}") else { throw failure("expected ',' or '}'") }
                index += 1
                break
            }
        }
        skipWhitespace()
        guard index == bytes.count else { throw failure("unexpected data after the JSON object") }
        return members
    }

    private mutating func scanTopLevelValue() throws(Failure) -> Member.Kind {
        switch peek() {
        case UInt8(ascii: "\""): return .string(try scanString())
        case UInt8(ascii: "{"):
            try skipValue(depth: 1)
            return .object
        case UInt8(ascii: "["):
            let start = index
            try skipValue(depth: 1)
            var inner = start + 1
            while inner < index, Self.isWhitespace(bytes[inner]) { inner += 1 }
            return .array(isEmpty: bytes[inner] == UInt8(ascii: "]"))
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            let start = index
            try skipValue(depth: 1)
            switch bytes[start] {
            case UInt8(ascii: "t"): return .bool(true)
            case UInt8(ascii: "f"): return .bool(false)
            default: return .null
            }
        default:
            let start = index
            try skipNumber()
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            return .number(Double(text))
        }
    }

    private mutating func skipValue(depth: Int) throws(Failure) {
        guard depth <= Self.maximumDepth else { throw failure("nesting deeper than \(Self.maximumDepth) levels") }
        switch peek() {
        case UInt8(ascii: "\""):
            try skipString()
        case UInt8(ascii: "{"):
            index += 1
            skipWhitespace()
            if peek() == UInt8(ascii: "}") {
                index += 1
                return
            }
            while true {
                skipWhitespace()
                guard peek() == UInt8(ascii: "\"") else { throw failure("expected a member name") }
                try skipString()
                skipWhitespace()
                guard peek() == UInt8(ascii: ":") else { throw failure("expected ':' after a member name") }
                index += 1
                skipWhitespace()
                try skipValue(depth: depth + 1)
                skipWhitespace()
                if peek() == UInt8(ascii: ",") {
                    index += 1
                } else if peek() == UInt8(ascii: "}") {
                    index += 1
                    return
                } else {
                    throw failure("expected ',' or '}'")
                }
            }
        case UInt8(ascii: "["):
            index += 1
            skipWhitespace()
            if peek() == UInt8(ascii: "]") {
                index += 1
                return
            }
            while true {
                skipWhitespace()
                try skipValue(depth: depth + 1)
                skipWhitespace()
                if peek() == UInt8(ascii: ",") {
                    index += 1
                } else if peek() == UInt8(ascii: "]") {
                    index += 1
                    return
                } else {
                    throw failure("expected ',' or ']'")
                }
            }
        case UInt8(ascii: "t"): try expectLiteral("true")
        case UInt8(ascii: "f"): try expectLiteral("false")
        case UInt8(ascii: "n"): try expectLiteral("null")
        case nil: throw failure("unexpected end of data")
        default: try skipNumber()
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(Failure) {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw failure("unexpected end of data") }
        for offset in 0..<count where bytes[index + offset] != literal.utf8Start[offset] {
            throw failure("invalid literal")
        }
        index += count
    }

    private mutating func skipNumber() throws(Failure) {
        let start = index
        if peek() == UInt8(ascii: "-") { index += 1 }
        guard let first = peek(), Self.isDigit(first) else { throw failure("invalid value") }
        if first == UInt8(ascii: "0") {
            index += 1
        } else {
            while let byte = peek(), Self.isDigit(byte) { index += 1 }
        }
        if peek() == UInt8(ascii: ".") {
            index += 1
            guard let byte = peek(), Self.isDigit(byte) else { throw failure("invalid number") }
            while let byte = peek(), Self.isDigit(byte) { index += 1 }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            index += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
            guard let byte = peek(), Self.isDigit(byte) else { throw failure("invalid number") }
            while let byte = peek(), Self.isDigit(byte) { index += 1 }
        }
        if index == start { throw failure("invalid value") }
    }

    private mutating func skipString() throws(Failure) {
        index += 1
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return
            } else if byte == UInt8(ascii: "\\") {
                index += 2
            } else if byte < 0x20 {
                throw failure("control character in a string")
            } else {
                index += 1
            }
        }
        throw failure("unterminated string")
    }

    /// Decodes a string, escapes included; the fast path copies the bytes when there are none.
    private mutating func scanString() throws(Failure) -> String {
        let start = index + 1
        try skipString()
        let raw = UnsafeBufferPointer(rebasing: bytes[start..<index - 1])
        guard raw.contains(UInt8(ascii: "\\")) else { return String(decoding: raw, as: UTF8.self) }
        var scalars = String.UnicodeScalarView()
        var decoded = [UInt8]()
        var position = 0
        func flush() {
            scalars.append(contentsOf: String(decoding: decoded, as: UTF8.self).unicodeScalars)
            decoded.removeAll(keepingCapacity: true)
        }
        while position < raw.count {
            let byte = raw[position]
            guard byte == UInt8(ascii: "\\"), position + 1 < raw.count else {
                decoded.append(byte)
                position += 1
                continue
            }
            let escape = raw[position + 1]
            position += 2
            switch escape {
            case UInt8(ascii: "n"): decoded.append(0x0A)
            case UInt8(ascii: "t"): decoded.append(0x09)
            case UInt8(ascii: "r"): decoded.append(0x0D)
            case UInt8(ascii: "b"): decoded.append(0x08)
            case UInt8(ascii: "f"): decoded.append(0x0C)
            case UInt8(ascii: "u"):
                guard var unit = Self.hex4(raw, position) else { throw failure("invalid \\u escape") }
                position += 4
                if (0xD800...0xDBFF).contains(unit), position + 6 <= raw.count, raw[position] == UInt8(ascii: "\\"),
                    raw[position + 1] == UInt8(ascii: "u"), let low = Self.hex4(raw, position + 2),
                    (0xDC00...0xDFFF).contains(low)
                {
                    unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    position += 6
                }
                flush()
                scalars.append(Unicode.Scalar(unit) ?? "\u{FFFD}")
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(escape)
            default: throw failure("invalid escape")
            }
        }
        flush()
        return String(scalars)
    }

    private static func hex4(_ raw: UnsafeBufferPointer<UInt8>, _ at: Int) -> UInt32? {
        guard at + 4 <= raw.count else { return nil }
        var value: UInt32 = 0
        for byte in raw[at..<at + 4] {
            let digit: UInt32
            switch byte {
            case 0x30...0x39: digit = UInt32(byte - 0x30)
            case 0x41...0x46: digit = UInt32(byte - 0x41 + 10)
            case 0x61...0x66: digit = UInt32(byte - 0x61 + 10)
            default: return nil
            }
            value = value << 4 | digit
        }
        return value
    }

    private mutating func skipWhitespace() {
        while index < bytes.count, Self.isWhitespace(bytes[index]) { index += 1 }
    }

    private func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    private func failure(_ message: String) -> Failure { Failure(message: message, offset: index) }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
}
