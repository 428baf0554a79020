import CZlib

/// The entries of a zip file (and of the formats built on it: `.jar`, `.whl`, `.docx`, `.xlsx`,
/// `.apk`, ...), read from its central directory, each inflated within a size limit. Pure: the
/// archive's bytes in, entries' bytes out; nothing the archive declares is trusted further than
/// the bytes it has.
struct ZipArchive {
    struct Entry: Sendable {
        var name: String
        var method: UInt16
        var compressedSize: Int
        var uncompressedSize: Int
        var localHeaderOffset: Int
        var isEncrypted: Bool

        var isDirectory: Bool { name.hasSuffix("/") }
    }

    /// Why an entry was not read, for the scan's summary.
    enum Skip: Error, Equatable {
        case tooLarge
        case encrypted
        case unsupportedMethod
        case corrupt
    }

    let bytes: [UInt8]
    let entries: [Entry]
    /// Central-directory records the archive counts but that could not be read.
    let unreadableRecords: Int

    /// `nil` unless `bytes` starts as a zip file does and has a readable central directory (zip64
    /// archives, over 4 GiB or 65,535 entries, are not read).
    init?(_ bytes: [UInt8]) {
        guard bytes.count >= 22, bytes[0] == 0x50, bytes[1] == 0x4B, bytes[2] == 0x03, bytes[3] == 0x04 else { return nil }
        // The end-of-central-directory record, within the last 64 KiB (its comment's limit) of the file.
        var end = bytes.count - 22
        let lowest = max(0, bytes.count - 22 - 0xFFFF)
        while end >= lowest, Self.u32(bytes, end) != 0x0605_4B50 { end -= 1 }
        guard end >= lowest else { return nil }
        let count = Int(Self.u16(bytes, end + 10))
        let directorySize = Int(Self.u32(bytes, end + 12))
        let directoryOffset = Int(Self.u32(bytes, end + 16))
        guard directoryOffset <= bytes.count, directorySize <= bytes.count - directoryOffset else { return nil }
        var entries: [Entry] = []
        var offset = directoryOffset
        for _ in 0..<count {
            guard offset + 46 <= bytes.count, Self.u32(bytes, offset) == 0x0201_4B50 else { break }
            let nameLength = Int(Self.u16(bytes, offset + 28))
            let extraLength = Int(Self.u16(bytes, offset + 30))
            let commentLength = Int(Self.u16(bytes, offset + 32))
            guard offset + 46 + nameLength <= bytes.count else { break }
            entries.append(
                Entry(
                    name: String(decoding: bytes[(offset + 46)..<(offset + 46 + nameLength)], as: UTF8.self),
                    method: Self.u16(bytes, offset + 10), compressedSize: Int(Self.u32(bytes, offset + 20)),
                    uncompressedSize: Int(Self.u32(bytes, offset + 24)), localHeaderOffset: Int(Self.u32(bytes, offset + 42)),
                    isEncrypted: Self.u16(bytes, offset + 8) & 1 != 0))
            offset += 46 + nameLength + extraLength + commentLength
        }
        self.bytes = bytes
        self.entries = entries
        unreadableRecords = count - entries.count
    }

    /// An entry's name as a report may print it: control characters replaced.
    static func printable(_ name: String) -> String {
        String(String.UnicodeScalarView(name.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : $0 }))
    }

    /// The entry's content, at most `limit` bytes of it, and what reading it cost (the bytes inflated
    /// or copied, whether or not it could be read in the end).
    func content(of entry: Entry, limit: Int) -> (Result<[UInt8], Skip>, cost: Int) {
        guard !entry.isEncrypted else { return (.failure(.encrypted), 0) }
        guard entry.uncompressedSize <= limit else { return (.failure(.tooLarge), 0) }
        let header = entry.localHeaderOffset
        guard header + 30 <= bytes.count, Self.u32(bytes, header) == 0x0403_4B50 else { return (.failure(.corrupt), 0) }
        let start = header + 30 + Int(Self.u16(bytes, header + 26)) + Int(Self.u16(bytes, header + 28))
        guard start <= bytes.count, entry.compressedSize <= bytes.count - start else { return (.failure(.corrupt), 0) }
        let data = bytes[start..<(start + entry.compressedSize)]
        switch entry.method {
        case 0:
            // Stored: the declared size says nothing; the bytes themselves are held to the limit.
            guard data.count <= limit else { return (.failure(.tooLarge), 0) }
            return (.success(Array(data)), data.count)
        case 8:
            // The declared size is a hint, not a bound: inflate stops at the limit whatever it says,
            // and an entry that declared less than it holds is inflated again up to the limit.
            var capacity = min(limit, max(entry.uncompressedSize, 1))
            var cost = 0
            while true {
                var out = [UInt8](repeating: 0, count: capacity)
                let written = data.withUnsafeBufferPointer { input in
                    out.withUnsafeMutableBufferPointer { output in
                        perimeter_inflate_raw(input.baseAddress, input.count, output.baseAddress, output.count)
                    }
                }
                cost += capacity
                if written == -2 {
                    guard capacity < limit else { return (.failure(.tooLarge), cost) }
                    capacity = limit
                    continue
                }
                guard written >= 0 else { return (.failure(.corrupt), cost) }
                out.removeSubrange(written...)
                return (.success(out), cost)
            }
        default:
            return (.failure(.unsupportedMethod), 0)
        }
    }

    private static func u16(_ bytes: [UInt8], _ offset: Int) -> UInt16 {
        UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    private static func u32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
    }
}
