import Foundation

/// One long-lived `git cat-file --batch`: every object id is written up front (from another thread,
/// so neither pipe fills up), and contents are read back in order with large `read(2)` calls
/// straight into one reused buffer.
final class BlobReader {
    private let child: ChildProcess
    private let output: Int32
    private var buffer = [UInt8]()
    private var position = 0
    private static let chunk = 1 << 20

    /// Starts `git cat-file --batch` for `ids`, which are read back in this order.
    init(git: Git, ids: [String]) throws {
        child = try git.spawn(["cat-file", "--batch", "--buffer"], input: true, captureErrors: false)
        output = child.output
        #if os(Linux)
            // A 1 MiB pipe (F_SETPIPE_SZ) instead of 64 KiB: git and the scanner wake each other far less often.
            _ = fcntl(output, 1031, Int32(Self.chunk))
        #endif
        let request = Array(ids.joined(separator: "\n").utf8) + [0x0A]
        let writer = child.input!
        Thread.detachNewThread {
            ChildProcess.writeAll(writer, request)
            ChildProcess.closeDescriptor(writer)
        }
    }

    /// The next object's content, or `nil` (and its size) when it is larger than `limit`, whose bytes
    /// are skipped. Throws when git answers `missing` or stops early.
    func next(limit: Int) throws -> (content: [UInt8]?, size: Int) {
        let header = try line()
        let fields = header.split(separator: " ")
        guard fields.count == 3, let size = Int(fields[2]) else { throw BlobReaderError.unexpected(header) }
        guard size <= limit else {
            try skip(size + 1)
            return (nil, size)
        }
        let content = try bytes(size)
        try skip(1)
        return (content, size)
    }

    func close() {
        ChildProcess.closeDescriptor(output)
        child.terminate()
        _ = child.wait()
    }

    private func fill() throws -> Bool {
        if position > 0 {
            buffer.removeSubrange(0..<position)
            position = 0
        }
        let filled = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: Self.chunk))
        let count = buffer.withUnsafeMutableBytes { raw in
            var count: Int
            repeat {
                count = read(output, raw.baseAddress.map { $0 + filled }, Self.chunk)
            } while count < 0 && errno == EINTR
            return count
        }
        buffer.removeLast(Self.chunk - max(count, 0))
        guard count >= 0 else { throw BlobReaderError.unexpected("read failed with errno \(errno)") }
        return count > 0
    }

    private func line() throws -> String {
        while true {
            if let newline = buffer[position...].firstIndex(of: 0x0A) {
                let text = String(decoding: buffer[position..<newline], as: UTF8.self)
                position = newline + 1
                return text
            }
            guard try fill() else { throw BlobReaderError.endOfOutput }
        }
    }

    private func bytes(_ count: Int) throws -> [UInt8] {
        while buffer.count - position < count {
            guard try fill() else { throw BlobReaderError.endOfOutput }
        }
        let content = Array(buffer[position..<position + count])
        position += count
        return content
    }

    private func skip(_ count: Int) throws {
        var remaining = count
        while remaining > 0 {
            if position == buffer.count, !(try fill()) { throw BlobReaderError.endOfOutput }
            let step = min(remaining, buffer.count - position)
            position += step
            remaining -= step
        }
    }
}

enum BlobReaderError: Error, CustomStringConvertible {
    case unexpected(String)
    case endOfOutput

    var description: String {
        switch self {
        case .unexpected(let header): "git cat-file answered '\(header)'"
        case .endOfOutput: "git cat-file stopped before every object was read"
        }
    }
}
