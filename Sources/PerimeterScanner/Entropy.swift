/// Shannon entropy in bits per byte: about 5.9 for random base62, 4 at most for hex, near 0 for
/// `aaaaaaaa`. Rules without a fixed marker require a floor, so words and hashes of low variety pass.
public enum Entropy {
    public static func bitsPerByte(_ bytes: some Collection<UInt8>) -> Double {
        if let contiguous = bytes.withContiguousStorageIfAvailable({ bitsPerByte(buffer: $0) }) { return contiguous }
        return Array(bytes).withUnsafeBufferPointer { bitsPerByte(buffer: $0) }
    }

    private static func bitsPerByte(buffer bytes: UnsafeBufferPointer<UInt8>) -> Double {
        guard !bytes.isEmpty else { return 0 }
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: 256) { counts in
            counts.initialize(repeating: 0)
            for byte in bytes { counts[Int(byte)] += 1 }
            let total = Double(bytes.count)
            var entropy = 0.0
            for count in counts where count > 0 {
                let p = Double(count) / total
                entropy -= p * log2(p)
            }
            return entropy
        }
    }
}

extension Entropy {
    /// The entropy floor for a key of `length` bytes drawn uniformly from `alphabetSize` symbols: below
    /// it, fewer than one random key in a million falls.
    ///
    /// The plug-in entropy of `n` random symbols averages about `log2(k) - (k - 1) / (2 n ln 2)` (Miller
    /// and Madow's bias), and its one-in-a-million low tail lies about `4.6 / sqrt(n)` below that for
    /// the shapes keys have (measured over four million keys each of 16 to 100 symbols from alphabets of
    /// 16 to 64); the floor stays `6 / sqrt(n)` below. RuleCatalogTests checks every rule against
    /// 200,000 random keys of its shape.
    public static func floor(alphabetSize: Int, length: Int) -> Double {
        guard alphabetSize > 1, length > 0 else { return 0 }
        let k = Double(alphabetSize)
        let n = Double(length)
        let expected = log2(k) - (k - 1) / (2 * n * log(2))
        return max(0, expected - 6 / n.squareRoot())
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
