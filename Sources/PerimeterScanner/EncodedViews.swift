import PerimeterCore

#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// How a secret was hidden from a plain reading of the content: the decoding (or joining) that
/// revealed it. Each is applied one level deep.
public enum Encoding: String, Sendable, Hashable, CaseIterable {
    /// Standard or URL-safe base64, padded or not: Kubernetes `Secret` data, Docker `auth` strings.
    case base64
    /// `%XX` escapes: URLs, form bodies, double-encoded configuration.
    case percent
    /// JSON `\uXXXX` escapes of ASCII characters, and `\/`.
    case jsonUnicode = "json-unicode"
    /// `=XX` escapes and `=` soft line breaks of e-mail bodies.
    case quotedPrintable = "quoted-printable"
    /// A string split by a shell or Python line continuation, or by concatenating two literals on one line.
    case joined
}

/// Part of the content as one decoding reads it. `origin[i]` is the content offset decoded byte `i`
/// came from, and `changed[i]` whether the decoding made it (rather than copying it): a match counts
/// only if it holds a changed byte, as the plain reading finds the rest.
struct EncodedView {
    var encoding: Encoding
    var bytes: [UInt8] = []
    var origin: [Int32] = []
    var changed: [Bool] = []

    mutating func append(_ byte: UInt8, from offset: Int, changed isChanged: Bool) {
        bytes.append(byte)
        origin.append(Int32(truncatingIfNeeded: offset))
        changed.append(isChanged)
    }

    /// The content range a decoded range came from, if the decoding made part of it.
    func contentRange(of range: Range<Int>) -> Range<Int>? {
        guard !range.isEmpty, changed[range].contains(true) else { return nil }
        let start = Int(origin[range.lowerBound])
        return start..<max(start + 1, Int(origin[range.upperBound - 1]) + 1)
    }
}

/// Finds the encoded parts of some content and decodes each: pure and linear, the parts found by one
/// table-driven pass per encoding, decoded only where a part looks like one.
enum EncodedViews {
    static let base64Minimum = 24
    static let maximumPart = 1 << 20
    static let contextLimit = 160

    /// Calls `body` with each view in turn, so only one is held at a time.
    static func forEach(of bytes: UnsafeBufferPointer<UInt8>, _ body: (EncodedView) -> Void) {
        // Offsets are kept in 32 bits: content past 2 GiB (only with a raised --max-file-size) is read plainly.
        guard bytes.count < Int(Int32.max) else { return }
        base64(bytes, body)
        if let view = percent(bytes) { body(view) }
        if let view = jsonUnicode(bytes) { body(view) }
        if let view = quotedPrintable(bytes) { body(view) }
        if let view = joined(bytes) { body(view) }
    }

    /// The first `byte` at or after `start`, by the C library's vectorised `memchr`.
    @inline(__always)
    static func next(_ byte: UInt8, in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        guard start < bytes.count, let base = bytes.baseAddress, let found = memchr(base + start, Int32(byte), bytes.count - start)
        else { return nil }
        return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
    }

    /// The first index from which `test` holds, among the places `byte` stands.
    static func first(_ byte: UInt8, in bytes: UnsafeBufferPointer<UInt8>, where test: (Int) -> Bool) -> Int? {
        var from = 0
        while let index = next(byte, in: bytes, from: from) {
            if test(index) { return index }
            from = index + 1
        }
        return nil
    }

    // MARK: base64

    /// Per byte: 0 outside base64; else a member bit and what the byte says of the run.
    private static let base64Flags: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 256)
        for byte in UInt8(ascii: "A")...UInt8(ascii: "Z") { table[Int(byte)] = member | upperFlag }
        for byte in UInt8(ascii: "a")...UInt8(ascii: "z") { table[Int(byte)] = member | lowerFlag }
        for byte in UInt8(ascii: "0")...UInt8(ascii: "9") { table[Int(byte)] = member }
        for byte in "+/".utf8 { table[Int(byte)] = member | standardFlag }
        for byte in "-_".utf8 { table[Int(byte)] = member | urlSafeFlag }
        return table
    }()
    private static let member: UInt8 = 1
    private static let upperFlag: UInt8 = 2
    private static let lowerFlag: UInt8 = 4
    private static let standardFlag: UInt8 = 8
    private static let urlSafeFlag: UInt8 = 16

    private static let base64Values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, byte) in Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8).enumerated() {
            table[Int(byte)] = UInt8(value)
        }
        table[Int(UInt8(ascii: "-"))] = 62
        table[Int(UInt8(ascii: "_"))] = 63
        return table
    }()

    /// Each run of base64 characters long enough to hold a key that decodes to text: one view, with
    /// the line before it as context (so `MISTRAL_API_KEY: <base64>` keeps its keyword).
    static func base64(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (EncodedView) -> Void) {
        base64Flags.withUnsafeBufferPointer { base64(bytes, flags: $0, body) }
    }

    private static func base64(_ bytes: UnsafeBufferPointer<UInt8>, flags: UnsafeBufferPointer<UInt8>, _ body: (EncodedView) -> Void) {
        var index = 0
        while index < bytes.count {
            guard flags[Int(bytes[index])] != 0 else {
                index += 1
                continue
            }
            let start = index
            var seen: UInt8 = 0
            while index < bytes.count {
                let flag = flags[Int(bytes[index])]
                if flag == 0 { break }
                seen |= flag
                index += 1
            }
            let end = index
            while index < bytes.count, bytes[index] == UInt8(ascii: "="), index - end < 2 { index += 1 }
            // Both alphabets at once is a path or an identifier, not base64; text encodes to mixed case.
            guard end - start >= base64Minimum, end - start <= maximumPart,
                seen & (standardFlag | urlSafeFlag) != standardFlag | urlSafeFlag, seen & (upperFlag | lowerFlag) == upperFlag | lowerFlag,
                let decoded = decodeBase64(bytes, start..<end), isText(decoded)
            else { continue }
            var view = EncodedView(encoding: .base64)
            var lineStart = start
            while lineStart > 0, start - lineStart < contextLimit, bytes[lineStart - 1] != 0x0A { lineStart -= 1 }
            for offset in lineStart..<start { view.append(bytes[offset], from: offset, changed: false) }
            let length = end - start
            for (position, byte) in decoded.enumerated() {
                view.append(byte, from: start + min(length - 1, position * 4 / 3), changed: true)
            }
            body(view)
        }
    }

    static func decodeBase64(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(range.count * 3 / 4)
        var buffer: UInt32 = 0
        var bits = 0
        for index in range {
            let value = base64Values[Int(bytes[index])]
            guard value != 0xFF else { return nil }
            buffer = (buffer << 6) | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return out
    }

    /// Printable ASCII and whitespace, nearly all of it: what a key, or a file holding one, decodes to.
    static func isText(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 16 else { return false }
        var printable = 0
        for byte in bytes where (0x20...0x7E).contains(byte) || byte == 0x09 || byte == 0x0A || byte == 0x0D { printable += 1 }
        return printable * 100 >= bytes.count * 97
    }

    // MARK: percent-encoding

    private static let urlCharacter = ByteClass([0x30...0x39, 0x41...0x5A, 0x61...0x7A], extra: "%._~+-=&:/!*'(),;@$?#[]")

    /// The content with every `%XX` run decoded: one view, or none when there is no escape.
    static func percent(_ bytes: UnsafeBufferPointer<UInt8>) -> EncodedView? {
        guard firstPercentEscape(bytes) != nil else { return nil }
        var view = EncodedView(encoding: .percent)
        view.bytes.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count, let high = Hex.nibble(bytes[index + 1]),
                let low = Hex.nibble(bytes[index + 2])
            {
                view.append(high << 4 | low, from: index, changed: true)
                index += 3
            } else {
                view.append(bytes[index], from: index, changed: false)
                index += 1
            }
        }
        return view
    }

    private static func firstPercentEscape(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        Self.first(UInt8(ascii: "%"), in: bytes) { index in
            index + 2 < bytes.count && Hex.nibble(bytes[index + 1]) != nil && Hex.nibble(bytes[index + 2]) != nil
                && (index + 3 < bytes.count ? urlCharacter.contains(bytes[index + 3]) : true)
        }
    }

    // MARK: JSON \u escapes

    /// The content with each `\uXXXX` of an ASCII character decoded (and `\/` as `/`); other escapes stay.
    static func jsonUnicode(_ bytes: UnsafeBufferPointer<UInt8>) -> EncodedView? {
        /// The byte an escape at `index` stands for, and its width: `\u00XX` below 0x80, or `\/`.
        func escape(at index: Int) -> (byte: UInt8, width: Int)? {
            guard bytes[index] == 0x5C, index + 1 < bytes.count else { return nil }
            if bytes[index + 1] == UInt8(ascii: "/") { return (UInt8(ascii: "/"), 2) }
            guard index + 5 < bytes.count, bytes[index + 1] == UInt8(ascii: "u"), bytes[index + 2] == UInt8(ascii: "0"),
                bytes[index + 3] == UInt8(ascii: "0"), let high = Hex.nibble(bytes[index + 4]), let low = Hex.nibble(bytes[index + 5]),
                high < 8
            else { return nil }
            return (high << 4 | low, 6)
        }
        guard let first = Self.first(0x5C, in: bytes, where: { escape(at: $0) != nil }) else { return nil }
        var view = EncodedView(encoding: .jsonUnicode)
        view.bytes.reserveCapacity(bytes.count)
        for offset in 0..<first { view.append(bytes[offset], from: offset, changed: false) }
        var index = first
        while index < bytes.count {
            if let (byte, width) = escape(at: index) {
                view.append(byte, from: index, changed: true)
                index += width
            } else {
                view.append(bytes[index], from: index, changed: false)
                index += 1
            }
        }
        return view
    }

    // MARK: quoted-printable

    /// The content with `=XX` escapes (upper-case hex, as the format writes them) decoded and soft line
    /// breaks removed, when it has a soft line break or an escaped `=` (`=3D`): the marks of the format.
    static func quotedPrintable(_ bytes: UnsafeBufferPointer<UInt8>) -> EncodedView? {
        func isUpperHex(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) || (0x41...0x46).contains(byte) }
        let marked =
            Self.first(UInt8(ascii: "="), in: bytes) { index in
                guard index + 1 < bytes.count else { return false }
                return bytes[index + 1] == 0x0A || (bytes[index + 1] == 0x0D && index + 2 < bytes.count && bytes[index + 2] == 0x0A)
                    || (index + 2 < bytes.count && bytes[index + 1] == UInt8(ascii: "3") && bytes[index + 2] == UInt8(ascii: "D"))
            } != nil
        guard marked else { return nil }
        var view = EncodedView(encoding: .quotedPrintable)
        view.bytes.reserveCapacity(bytes.count)
        var pendingChange = false
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "=") {
                if index + 1 < bytes.count, bytes[index + 1] == 0x0A {
                    index += 2
                    pendingChange = true
                    continue
                }
                if index + 2 < bytes.count, bytes[index + 1] == 0x0D, bytes[index + 2] == 0x0A {
                    index += 3
                    pendingChange = true
                    continue
                }
                if index + 2 < bytes.count, isUpperHex(bytes[index + 1]), isUpperHex(bytes[index + 2]),
                    let high = Hex.nibble(bytes[index + 1]), let low = Hex.nibble(bytes[index + 2])
                {
                    view.append(high << 4 | low, from: index, changed: true)
                    index += 3
                    continue
                }
            }
            view.append(bytes[index], from: index, changed: pendingChange)
            pendingChange = false
            index += 1
        }
        return view
    }

    // MARK: joined strings

    /// The content with string pieces joined: a backslash-newline continuation (and the next line's
    /// indentation) removed, and two quoted literals on one line, separated by `+`, `.` or only spaces,
    /// read as one. The first byte after each join is marked changed.
    static func joined(_ bytes: UnsafeBufferPointer<UInt8>) -> EncodedView? {
        func joins(at index: Int) -> Int? {
            let byte = bytes[index]
            if byte == 0x5C { return continuation(bytes, at: index) }
            if byte == UInt8(ascii: "\""), index > 0 { return concatenation(bytes, closingAt: index) }
            if byte == UInt8(ascii: "'"), index > 0 { return concatenation(bytes, closingAt: index) }
            return nil
        }
        let firsts = [0x5C, UInt8(ascii: "\""), UInt8(ascii: "'")].compactMap { byte in Self.first(byte, in: bytes) { joins(at: $0) != nil }
        }
        guard let first = firsts.min() else { return nil }
        var view = EncodedView(encoding: .joined)
        view.bytes.reserveCapacity(bytes.count)
        for offset in 0..<first { view.append(bytes[offset], from: offset, changed: false) }
        var pendingChange = false
        var index = first
        while index < bytes.count {
            if let next = joins(at: index) {
                index = next
                pendingChange = true
                continue
            }
            view.append(bytes[index], from: index, changed: pendingChange)
            pendingChange = false
            index += 1
        }
        return view
    }

    /// After `\` + newline + the next line's indentation: where the string goes on.
    private static func continuation(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> Int? {
        var next = index + 1
        if next < bytes.count, bytes[next] == 0x0D { next += 1 }
        guard next < bytes.count, bytes[next] == 0x0A else { return nil }
        next += 1
        while next < bytes.count, bytes[next] == 0x20 || bytes[next] == 0x09 { next += 1 }
        return next
    }

    /// For a quote closing a literal that another literal of the same quote follows on the same line
    /// (`"a" + "b"`, `'a' 'b'`, `"a" . "b"`): the first byte of the second literal's content.
    private static func concatenation(_ bytes: UnsafeBufferPointer<UInt8>, closingAt index: Int) -> Int? {
        let quote = bytes[index]
        // The closing quote ends a token-like piece: a key's characters stand right before it.
        guard ByteClass.tokenCharacter.contains(bytes[index - 1]) else { return nil }
        var next = index + 1
        var operators = 0
        while next < bytes.count, next - index < 16 {
            switch bytes[next] {
            case 0x20, 0x09: next += 1
            case UInt8(ascii: "+"), UInt8(ascii: "."):
                operators += 1
                next += 1
            default:
                guard operators <= 1, bytes[next] == quote, next > index + 1, next + 1 < bytes.count,
                    ByteClass.tokenCharacter.contains(bytes[next + 1])
                else { return nil }
                return next + 1
            }
        }
        return nil
    }
}
