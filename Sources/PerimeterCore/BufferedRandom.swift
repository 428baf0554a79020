import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Cryptographically secure random words drawn from a shared 4 KiB buffer that the kernel refills
/// in one read, for identifiers made on every request. `SystemRandomNumberGenerator` asks the kernel
/// for every 8 bytes, which made a request id cost four system calls.
package struct BufferedRandomNumberGenerator: RandomNumberGenerator {
    package init() {}

    package mutating func next() -> UInt64 {
        Self.pool.withLock { $0.next() }
    }

    private static let pool = Mutex(Pool())

    private struct Pool: ~Copyable {
        static let words = 512
        var buffer = [UInt64](repeating: 0, count: words)
        var index = words

        mutating func next() -> UInt64 {
            if index == Self.words {
                refill()
                index = 0
            }
            defer { index += 1 }
            return buffer[index]
        }

        private mutating func refill() {
            buffer.withUnsafeMutableBytes { bytes in
                var filled = 0
                #if canImport(Glibc)
                    // /dev/urandom never blocks once the kernel's pool is initialised, as it is after boot.
                    if let urandom = Self.urandom {
                        while filled < bytes.count {
                            let got = read(urandom, bytes.baseAddress! + filled, bytes.count - filled)
                            if got > 0 {
                                filled += got
                            } else if got == 0 || errno != EINTR {
                                break
                            }
                        }
                    }
                #endif
                // Never hand out predictable words: whatever is missing comes from the standard generator.
                var system = SystemRandomNumberGenerator()
                while filled < bytes.count {
                    withUnsafeBytes(of: system.next()) { word in
                        let count = min(8, bytes.count - filled)
                        (bytes.baseAddress! + filled).copyMemory(from: word.baseAddress!, byteCount: count)
                        filled += count
                    }
                }
            }
        }

        #if canImport(Glibc)
            private static let urandom: Int32? = {
                let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
                return fd >= 0 ? fd : nil
            }()
        #endif
    }
}
