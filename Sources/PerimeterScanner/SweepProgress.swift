import Synchronization

/// How far a sweep has got: files and bytes read, what it left out, and the directory it lists now.
/// The source counts; the CLI reads it from another thread for its progress line and summary.
public final class SweepProgress: Sendable {
    let filesRead = Atomic<Int>(0)
    let bytesRead = Atomic<Int>(0)
    let oversized = Atomic<Int>(0)
    let unreadable = Atomic<Int>(0)
    let skippedDirectories = Atomic<Int>(0)
    private let current = Mutex<String>("")

    public init() {}

    public var files: Int { filesRead.load(ordering: .relaxed) }
    public var bytes: Int { bytesRead.load(ordering: .relaxed) }
    /// Files over the size limit, not read.
    public var filesOverSizeLimit: Int { oversized.load(ordering: .relaxed) }
    /// Files and directories that could not be opened (permissions, gone meanwhile).
    public var unreadablePaths: Int { unreadable.load(ordering: .relaxed) }
    /// Caches, dependency trees, virtual environments and build outputs left out.
    public var directoriesSkipped: Int { skippedDirectories.load(ordering: .relaxed) }
    /// The directory being listed, as findings name paths (`~/src/app`).
    public var directory: String { current.withLock { $0 } }

    func entered(_ directory: String) { current.withLock { $0 = directory } }

    func read(_ count: Int) {
        filesRead.add(1, ordering: .relaxed)
        bytesRead.add(count, ordering: .relaxed)
    }
}
