/// Base62 (`0-9A-Za-z`) helpers for key and identifier generation.
package enum Base62 {
    package static let alphabet: [UInt8] = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// `count` uniformly random base62 characters from a cryptographically secure generator.
    ///
    /// Bytes of 248 and above are rejected so every character has the same probability (248 = 4 × 62).
    package static func random<G: RandomNumberGenerator>(count: Int, using generator: inout G) -> String {
        var out = [UInt8]()
        out.reserveCapacity(count)
        while out.count < count {
            var word = generator.next()
            for _ in 0..<8 where out.count < count {
                let byte = UInt8(truncatingIfNeeded: word)
                word >>= 8
                if byte < 248 { out.append(alphabet[Int(byte % 62)]) }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    package static func random(count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return random(count: count, using: &generator)
    }

    /// `value` in base62, left-padded with `0` to `width` characters.
    package static func encode(_ value: UInt32, width: Int) -> String {
        var digits = [UInt8](repeating: alphabet[0], count: width)
        var rest = value
        var index = width - 1
        while rest > 0, index >= 0 {
            digits[index] = alphabet[Int(rest % 62)]
            rest /= 62
            index -= 1
        }
        return String(decoding: digits, as: UTF8.self)
    }

    package static func isBase62(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
    }
}
