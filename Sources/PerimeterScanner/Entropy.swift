/// Shannon entropy in bits per byte: about 5.9 for random base62, 4 at most for hex, near 0 for
/// `aaaaaaaa`. Rules without a fixed marker require a floor, so words and hashes of low variety pass.
public enum Entropy {
    public static func bitsPerByte(_ bytes: some Collection<UInt8>) -> Double {
        guard !bytes.isEmpty else { return 0 }
        var counts = [Int](repeating: 0, count: 256)
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

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
