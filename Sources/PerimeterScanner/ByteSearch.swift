import CMemmem

/// Literal search in bytes, through the C library's `memmem` (vectorised on Linux and macOS).
enum ByteSearch {
    /// Offsets of every occurrence of `needle` in `haystack[range]`, overlapping ones included.
    static func occurrences(of needle: [UInt8], in haystack: UnsafeBufferPointer<UInt8>, range: Range<Int>? = nil) -> [Int] {
        guard let base = haystack.baseAddress, !needle.isEmpty else { return [] }
        let bounds = range ?? 0..<haystack.count
        var offsets: [Int] = []
        var start = bounds.lowerBound
        needle.withUnsafeBytes { needleBytes in
            while bounds.upperBound - start >= needle.count {
                guard let found = perimeter_memmem(base + start, bounds.upperBound - start, needleBytes.baseAddress, needle.count) else {
                    break
                }
                let offset = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
                offsets.append(offset)
                start = offset + 1
            }
        }
        return offsets
    }

    /// Whether `needle` occurs anywhere in `haystack`.
    static func contains(_ needle: [UInt8], in haystack: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = haystack.baseAddress, !needle.isEmpty else { return false }
        return needle.withUnsafeBytes { perimeter_memmem(base, haystack.count, $0.baseAddress, needle.count) != nil }
    }

    /// The spellings a keyword is searched in: as written, lowercase, UPPERCASE and Capitalized, which
    /// covers `mistral_api_key`, `MISTRAL_API_KEY` and `Mistral(...)` without a case-folding pass.
    static func spellings(of keyword: String) -> [[UInt8]] {
        let lower = keyword.lowercased()
        let variants = [keyword, lower, keyword.uppercased(), lower.prefix(1).uppercased() + lower.dropFirst()]
        var unique: [[UInt8]] = []
        for variant in variants where !unique.contains(Array(variant.utf8)) { unique.append(Array(variant.utf8)) }
        return unique
    }
}
