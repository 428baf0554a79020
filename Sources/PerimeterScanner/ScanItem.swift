/// One piece of content to scan: a file of the working tree, a staged blob or a blob of history.
public struct ScanItem: Sendable {
    /// Where the content comes from.
    public enum Origin: Sendable, Hashable {
        case workingTree
        case index
        case history(Commit)
    }

    /// Path relative to the scanned root, with `/` separators.
    public var path: String
    /// `nil` when the content was not read: too large (binary content is recognised by the scanner).
    public var content: [UInt8]?
    public var origin: Origin
    /// Tracked in git or taken from git: only then is a `.env` file a finding by itself.
    public var isCommitted: Bool

    public init(path: String, content: [UInt8]?, origin: Origin, isCommitted: Bool) {
        self.path = path
        self.content = content
        self.origin = origin
        self.isCommitted = isCommitted
    }
}

/// Where items come from: the working tree, the index, git history.
///
/// The scanner calls `next()` from several threads, one at a time (under a lock), so a source keeps
/// plain mutable state and may block on I/O; the scanner takes it over (`sending`).
public protocol ScanSource {
    /// The next item, or `nil` when there is none left.
    mutating func next() throws -> ScanItem?
}
