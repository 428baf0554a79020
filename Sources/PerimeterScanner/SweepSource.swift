#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Every file under some directories, git-ignored or in no repository at all: what `perimeter scan
/// --sweep` reads on a developer's machine (`.env` files, shell rc and history files, `.netrc`,
/// notebooks, `~/.config` and tool settings, and ordinary source and text files).
///
/// It lists one directory at a time, as the scanner asks for files, so a sweep of a home directory
/// starts scanning at once and holds only the directories still to list. It leaves out what
/// ``SweepRules`` names and any directory with a `pyvenv.cfg`; it never follows a symbolic link
/// (what a link points at inside the tree is read where it is), reads only regular files (never a
/// FIFO or a device), lists each directory once by its device and inode (bind mounts and
/// overlapping roots cannot loop), and counts files over the size limit without reading them.
/// Paths are absolute, with `~` for the home directory.
public struct SweepSource: ScanSource {
    private struct DirectoryID: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    /// Directories still to list, the next on top.
    private var directories: [String]
    /// Files of listed directories still to read, the next on top.
    private var files: [String] = []
    private var visited: Set<DirectoryID> = []
    private let sizeLimit: Int
    private let home: String?
    public let progress: SweepProgress

    /// Kernel file systems that hold no files of anyone's, when a sweep starts at `/`.
    static let skippedAbsolutePaths: Set<String> = ["/proc", "/sys", "/dev"]

    /// `roots` are absolute directory paths; `home`, when given, is shown as `~` in paths.
    public init(roots: [String], home: String?, sizeLimit: Int, progress: SweepProgress = SweepProgress()) {
        directories = roots.map(Self.trimmed).reversed()
        self.home = home.map(Self.trimmed).flatMap { $0 == "/" ? nil : $0 }
        self.sizeLimit = sizeLimit
        self.progress = progress
    }

    public mutating func next() throws -> ScanItem? {
        while true {
            if let path = files.popLast() {
                switch SweepFile.contents(of: path, limit: sizeLimit) {
                case .bytes(let content):
                    progress.read(content.count)
                    return ScanItem(path: displayed(path), content: content, origin: .workingTree, isCommitted: false)
                case .tooLarge:
                    progress.oversized.add(1, ordering: .relaxed)
                case .unreadable:
                    progress.unreadable.add(1, ordering: .relaxed)
                }
                continue
            }
            guard let directory = directories.popLast() else { return nil }
            list(directory)
        }
    }

    /// Queues the directory's regular files and its subdirectories that the rules keep, each in
    /// name order.
    private mutating func list(_ directory: String) {
        guard !Self.skippedAbsolutePaths.contains(directory) else { return }
        guard let stream = opendir(directory) else {
            progress.unreadable.add(1, ordering: .relaxed)
            return
        }
        defer { closedir(stream) }
        var info = stat()
        guard fstat(dirfd(stream), &info) == 0,
            visited.insert(DirectoryID(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))).inserted
        else { return }
        progress.entered(displayed(directory))
        let parentName = directory.split(separator: "/").last.map(String.init) ?? ""
        var subdirectories: [String] = []
        var found: [String] = []
        while let entry = readdir(stream) {
            let name = Self.name(of: entry)
            guard name != ".", name != ".." else { continue }
            let path = directory == "/" ? "/" + name : directory + "/" + name
            switch Self.kind(of: entry, path: path) {
            case .directory:
                if SweepRules.skipsDirectory(named: name, parent: parentName) {
                    progress.skippedDirectories.add(1, ordering: .relaxed)
                } else {
                    subdirectories.append(path)
                }
            case .file:
                if name == SweepRules.virtualEnvironmentMarker {
                    progress.skippedDirectories.add(1, ordering: .relaxed)
                    return
                }
                found.append(path)
            case .other:
                continue
            }
        }
        files += found.sorted(by: >)
        directories += subdirectories.sorted(by: >)
    }

    private enum Kind { case directory, file, other }

    /// From the directory entry, or from `lstat` where the file system does not say: a symbolic
    /// link is `other`, never what it points at.
    private static func kind(of entry: UnsafeMutablePointer<dirent>, path: String) -> Kind {
        var type = Int32(entry.pointee.d_type)
        if type == Int32(DT_UNKNOWN) {
            var info = stat()
            guard lstat(path, &info) == 0 else { return .other }
            switch info.st_mode & S_IFMT {
            case S_IFDIR: type = Int32(DT_DIR)
            case S_IFREG: type = Int32(DT_REG)
            default: return .other
            }
        }
        switch type {
        case Int32(DT_DIR): return .directory
        case Int32(DT_REG): return .file
        default: return .other
        }
    }

    private static func name(of entry: UnsafeMutablePointer<dirent>) -> String {
        withUnsafePointer(to: &entry.pointee.d_name) { pointer in
            pointer.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: entry.pointee.d_name)) {
                String(cString: $0)
            }
        }
    }

    /// `path` as findings show it: `~/...` under the home directory.
    func displayed(_ path: String) -> String {
        guard let home else { return path }
        if path == home { return "~" }
        return path.hasPrefix(home + "/") ? "~" + path.dropFirst(home.count) : path
    }

    /// Without a trailing `/` (except for `/` itself).
    static func trimmed(_ path: String) -> String {
        var path = path
        while path.count > 1, path.hasSuffix("/") { path.removeLast() }
        return path
    }
}
