/// Line and column of byte offsets, and the line around a match.
enum LineLocator {
    /// Fills in `line` and `column` (1-based) of matches sorted by offset, in one pass over the content.
    static func locate(_ matches: inout [Match], in content: [UInt8]) {
        var line = 1
        var lineStart = 0
        var position = 0
        for index in matches.indices {
            let target = matches[index].range.lowerBound
            while position < target {
                if content[position] == 0x0A {
                    line += 1
                    lineStart = position + 1
                }
                position += 1
            }
            matches[index].line = line
            matches[index].column = target - lineStart + 1
        }
    }

    /// Whether the line (or lines) holding `range` contain `needle`.
    static func lineContains(_ needle: [UInt8], around range: Range<Int>, in content: [UInt8]) -> Bool {
        var start = range.lowerBound
        while start > 0, content[start - 1] != 0x0A { start -= 1 }
        var end = range.upperBound
        while end < content.count, content[end] != 0x0A { end += 1 }
        return content.withUnsafeBufferPointer { ByteSearch.occurrences(of: needle, in: $0, range: start..<end).first != nil }
    }
}
