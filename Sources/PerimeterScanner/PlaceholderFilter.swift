/// Recognises values that only look like keys: documentation examples, templates and filler.
///
/// A candidate is a placeholder when it contains a long word such as `example` or `placeholder`
/// (anywhere, written in one case: `example`, `EXAMPLE`, `Example`), a short one such as `your` or `fake` standing as a word of its own (between
/// separators, in one case: `your-api-key`, `FAKE_KEY`), a run of one character eight times or more
/// (`xxxxxxxx`, `00000000`), or a plain sequence (`0123456789`, `abcdefghij`). AWS's documented key
/// `AKIAIOSFODNN7EXAMPLE` falls under the first.
///
/// Each test is one a random key almost never passes: a short word in any case, anywhere, or a run of
/// six, turned up in about one long random key in 3,000 and dropped it (RandomKeyRecallTests).
public enum PlaceholderFilter {
    /// Words of six letters or more, which random text of any alphabet holds once in billions.
    static let longWords = ["example", "placeholder", "sample", "redacted", "changeme", "replace_me", "replaceme", "insert"]
    /// Words too short to be told from random text unless they stand apart.
    static let shortWords = ["your", "fake", "dummy"]
    static let sequences = ["0123456789", "1234567890", "abcdefghij", "qwertyuiop"]
    static let longestRun = 8

    private static let anywhere = (longWords + sequences).map { word in
        (bytes: Array(word.utf8), letters: word.utf8.filter { $0 >= 0x61 && $0 <= 0x7A }.count)
    }
    private static let apart = shortWords.map { (lower: Array($0.utf8), upper: Array($0.uppercased().utf8)) }
    /// Whether a (lowercased) byte begins one of the words: most positions are skipped on one table read.
    private static let starts: [Bool] = {
        var table = [Bool](repeating: false, count: 256)
        for word in anywhere.map(\.bytes) + apart.map(\.lower) { table[Int(word[0])] = true }
        return table
    }()

    public static func isPlaceholder(_ value: some Collection<UInt8>) -> Bool {
        if let contiguous = value.withContiguousStorageIfAvailable({ isPlaceholder(bytes: $0) }) { return contiguous }
        return Array(value).withUnsafeBufferPointer { isPlaceholder(bytes: $0) }
    }

    private static func isPlaceholder(bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        @inline(__always) func lower(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte }
        @inline(__always) func isWordByte(_ byte: UInt8) -> Bool { ByteClass.alphanumeric.contains(byte) }
        let count = bytes.count
        var run = 0
        var previous: UInt8 = 0
        for index in 0..<count {
            let byte = lower(bytes[index])
            run = index > 0 && byte == previous ? run + 1 : 1
            previous = byte
            if run >= longestRun { return true }
            guard starts[Int(byte)] else { continue }
            for word in anywhere where word.bytes[0] == byte && word.bytes.count <= count - index {
                var matched = true
                var uppers = 0
                var restUpper = 0
                for offset in 0..<word.bytes.count {
                    let original = bytes[index + offset]
                    guard lower(original) == word.bytes[offset] else {
                        matched = false
                        break
                    }
                    if original != word.bytes[offset] {
                        uppers += 1
                        if offset > 0 { restUpper += 1 }
                    }
                }
                // In one case as people write it (`example`, `EXAMPLE`, `Example`), not a random mix.
                if matched, uppers == 0 || uppers == word.letters || (uppers == 1 && restUpper == 0) { return true }
            }
            // A short word: all lowercase or all uppercase, with no letter or digit on either side.
            for word in apart where word.lower[0] == byte && word.lower.count <= count - index {
                let spelling = bytes[index] == word.lower[0] ? word.lower : word.upper
                var matched = true
                for offset in 0..<spelling.count where bytes[index + offset] != spelling[offset] {
                    matched = false
                    break
                }
                guard matched else { continue }
                let before = index == 0 || !isWordByte(bytes[index - 1])
                let after = index + spelling.count == count || !isWordByte(bytes[index + spelling.count])
                if before, after { return true }
            }
        }
        return false
    }
}
