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
}
