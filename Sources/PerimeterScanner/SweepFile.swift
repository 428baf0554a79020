#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reading one file of a sweep with the C library: opened without following a link and without
/// blocking (a file swapped for a FIFO meanwhile cannot hang the sweep), checked to be a regular
/// file within the size limit, and read to its end only when its first bytes are not binary or
/// are a zip archive's (which the scanner opens).
enum SweepFile {
    enum Content {
        case bytes([UInt8])
        case tooLarge
        case unreadable
    }

    static func contents(of path: String, limit: Int) -> Content {
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { return .unreadable }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return .unreadable }
        let size = Int(info.st_size)
        guard size <= limit else { return .tooLarge }
        let probe = min(size, Scanner.binaryProbeLength)
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = fill(descriptor, buffer, from: 0, to: probe)
            // Binary: the scanner needs only the probe to see the NUL and pass over it.
            guard count == probe, !isBinary(buffer, count: count) else { return }
            count = fill(descriptor, buffer, from: count, to: size)
        }
        return .bytes(bytes)
    }

    /// Reads into `buffer[start..<end]` until it is full or the file ends; returns where it stopped.
    private static func fill(_ descriptor: Int32, _ buffer: UnsafeMutableBufferPointer<UInt8>, from start: Int, to end: Int) -> Int {
        var offset = start
        while offset < end {
            let count = read(descriptor, buffer.baseAddress! + offset, end - offset)
            if count > 0 {
                offset += count
            } else if count < 0, errno == EINTR {
                continue
            } else {
                break
            }
        }
        return offset
    }

    /// A NUL among the first bytes, unless they start a zip archive (`PK`).
    private static func isBinary(_ buffer: UnsafeMutableBufferPointer<UInt8>, count: Int) -> Bool {
        if count >= 2, buffer[0] == 0x50, buffer[1] == 0x4B { return false }
        return buffer[0..<count].contains(0)
    }
}
