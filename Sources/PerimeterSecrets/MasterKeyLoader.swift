import Foundation
import PerimeterCore

/// Finds the built-in store's master key: `PERIMETER_MASTER_KEY` (base64 of 32 bytes), else the file
/// named by `PERIMETER_MASTER_KEY_FILE`, else `perimeter.master-key` beside the database, created
/// with mode 0600 on first start. A key file that group or others can read is refused.
public enum MasterKeyLoader {
    public struct Loaded: Sendable {
        public var key: MasterKey
        /// Where the key came from, for messages.
        public var source: String
        /// The file created on this start, if one was.
        public var createdFile: String?
        /// A key generated for this process alone (no key was given and there is no file to keep it).
        public var isEphemeral = false
    }

    public static let defaultFileName = "perimeter.master-key"

    /// `defaultFile` is nil for a database not in a file (in memory, or PostgreSQL): then, unless a key
    /// is given, a key lives only as long as the process.
    public static func load(environment: [String: String], defaultFile: String?) throws(MasterKeyLoadError) -> Loaded {
        if let text = environment["PERIMETER_MASTER_KEY"], !text.isEmpty {
            do {
                return Loaded(key: try MasterKey(base64: text), source: "PERIMETER_MASTER_KEY")
            } catch {
                throw .invalid(source: "PERIMETER_MASTER_KEY", problem: error.description)
            }
        }
        if let path = environment["PERIMETER_MASTER_KEY_FILE"], !path.isEmpty {
            guard FileManager.default.fileExists(atPath: path) else { throw .missingFile(path) }
            return Loaded(key: try read(path), source: path)
        }
        guard let path = defaultFile else {
            return Loaded(key: .generate(), source: "an in-memory key of this process", isEphemeral: true)
        }
        if FileManager.default.fileExists(atPath: path) {
            return Loaded(key: try read(path), source: path)
        }
        let key = MasterKey.generate()
        do {
            try create(path, containing: key)
        } catch .raced {
            // Another process created it first: use theirs.
            return Loaded(key: try read(path), source: path)
        }
        return Loaded(key: key, source: path, createdFile: path)
    }

    /// Reads the key through one descriptor (no symlink followed), after checking on that same
    /// descriptor that it is a regular file of this user that nobody else can read.
    static func read(_ path: String) throws(MasterKeyLoadError) -> MasterKey {
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else { throw .unreadable(path, problem: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw .unreadable(path, problem: String(cString: strerror(errno))) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw .unreadable(path, problem: "not a regular file") }
        guard info.st_uid == geteuid() else {
            throw .unreadable(path, problem: "owned by another user (uid \(info.st_uid)); the gateway runs as uid \(geteuid())")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw .tooOpen(path, mode: String(info.st_mode & 0o777, radix: 8))
        }
        var bytes = [UInt8](repeating: 0, count: 256)
        let count = bytes.withUnsafeMutableBytes { Foundation.read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { throw .unreadable(path, problem: "the file is empty") }
        do {
            return try MasterKey(base64: String(decoding: bytes.prefix(count), as: UTF8.self))
        } catch {
            throw .invalid(source: path, problem: error.description)
        }
    }

    static func create(_ path: String, containing key: MasterKey) throws(MasterKeyLoadError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            if errno == EEXIST { throw .raced }
            throw .unwritable(path, problem: String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        let text = Array((key.base64.revealed + "\n").utf8)
        let written = text.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == text.count, fsync(descriptor) == 0 else {
            unlink(path)
            throw .unwritable(path, problem: String(cString: strerror(errno)))
        }
    }
}

public enum MasterKeyLoadError: Error, Sendable, Hashable, CustomStringConvertible {
    case invalid(source: String, problem: String)
    case missingFile(String)
    case unreadable(String, problem: String)
    case unwritable(String, problem: String)
    case tooOpen(String, mode: String)
    /// Internal: the file appeared between the check and the create.
    case raced

    public var description: String {
        switch self {
        case .invalid(let source, let problem):
            "the master key in \(source) is not usable: \(problem)"
        case .missingFile(let path):
            "the master key file \(path) (PERIMETER_MASTER_KEY_FILE) does not exist"
        case .unreadable(let path, let problem):
            "cannot read the master key file \(path): \(problem)"
        case .unwritable(let path, let problem):
            "cannot create the master key file \(path): \(problem); make its directory writable or set PERIMETER_MASTER_KEY_FILE"
        case .tooOpen(let path, let mode):
            "the master key file \(path) has mode \(mode) and can be read by group or others; run `chmod 600 \(path)`"
        case .raced:
            "the master key file was created by another process at the same time"
        }
    }
}
