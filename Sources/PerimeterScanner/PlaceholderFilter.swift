/// Recognises values that only look like keys: documentation examples, templates and filler.
///
/// A candidate is a placeholder when it contains a word such as `example`, `dummy` or `placeholder`
/// (any case), a run of one character six times or more (`xxxxxx`, `000000`), or a plain sequence
/// (`0123456789`, `abcdefghij`). AWS's documented key `AKIAIOSFODNN7EXAMPLE` falls under the first.
public enum PlaceholderFilter {
    static let words = ["example", "dummy", "placeholder", "sample", "your", "fake", "redacted", "changeme", "xxxx"]
    static let sequences = ["0123456789", "1234567890", "abcdefghij", "qwertyuiop"]

    public static func isPlaceholder(_ value: some Collection<UInt8>) -> Bool {
        let lowered = value.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
        for word in words + sequences where contains(lowered, Array(word.utf8)) { return true }
        var run = 0
        var previous: UInt8?
        for byte in lowered {
            run = byte == previous ? run + 1 : 1
            previous = byte
            if run >= 6 { return true }
        }
        return false
    }

    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<start + needle.count].elementsEqual(needle) { return true }
        }
        return false
    }
}
