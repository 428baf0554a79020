/// `NAME=value` lines of dotenv files whose name says key, token or secret.
enum EnvAssignments {
    /// The value ranges of such lines (quotes and trailing comments excluded) that pass the rule's
    /// length and entropy floors and are not placeholders or references (`${OTHER}`, `$(cmd)`).
    static func candidates(rule: Rule, index: Int, in bytes: UnsafeBufferPointer<UInt8>) -> [(rule: Int, range: Range<Int>)] {
        guard case .envAssignment(let names, let minimumLength) = rule.shape else { return [] }
        var found: [(rule: Int, range: Range<Int>)] = []
        var lineStart = 0
        while lineStart < bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count, bytes[lineEnd] != 0x0A { lineEnd += 1 }
            if let value = value(in: lineStart..<lineEnd, names: names, bytes: bytes), value.count >= minimumLength {
                let token = bytes[value]
                if Entropy.bitsPerByte(token) >= rule.entropyFloor, !PlaceholderFilter.isPlaceholder(token),
                    !token.contains(0x24), !token.contains(0x3C)
                {
                    found.append((index, value))
                }
            }
            lineStart = lineEnd + 1
        }
        return found
    }

    /// The value's range when the line assigns to a name containing one of `names`.
    static func value(in line: Range<Int>, names: [String], bytes: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        var index = line.lowerBound
        func skipSpaces() { while index < line.upperBound, bytes[index] == 0x20 || bytes[index] == 0x09 { index += 1 } }
        skipSpaces()
        if bytes[index..<line.upperBound].starts(with: "export ".utf8) {
            index += 7
            skipSpaces()
        }
        let nameStart = index
        while index < line.upperBound, ByteClass.word.contains(bytes[index]) || bytes[index] == 0x2E { index += 1 }
        let name = String(decoding: bytes[nameStart..<index], as: UTF8.self).lowercased()
        guard !name.isEmpty, names.contains(where: name.contains) else { return nil }
        skipSpaces()
        guard index < line.upperBound, bytes[index] == 0x3D else { return nil }
        index += 1
        skipSpaces()
        var end = line.upperBound
        if index < end, bytes[index] == 0x22 || bytes[index] == 0x27 {
            let quote = bytes[index]
            index += 1
            var close = index
            while close < end, bytes[close] != quote { close += 1 }
            end = close
        } else {
            var stop = index
            while stop < end, bytes[stop] != 0x20, bytes[stop] != 0x09, bytes[stop] != 0x0D, bytes[stop] != 0x23 { stop += 1 }
            end = stop
        }
        return index < end ? index..<end : nil
    }
}
