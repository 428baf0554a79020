/// The blobs staged in the index that differ from `HEAD`: what the next commit would add, for a
/// pre-commit hook. A new repository without `HEAD` compares with the empty tree.
public struct StagedSource: ScanSource {
    private let entries: [RawDiff.Entry]
    private var position = 0
    private let reader: BlobReader?
    private let sizeLimit: Int

    public init(git: Git, sizeLimit: Int) throws {
        let output = try git.run(["diff", "--cached", "--raw", "-z", "--no-abbrev", "--no-renames", "--diff-filter=d"])
        entries = RawDiff.entries(output[...])
        reader = entries.isEmpty ? nil : try BlobReader(git: git, ids: entries.map(\.blob))
        self.sizeLimit = sizeLimit
    }

    public mutating func next() throws -> ScanItem? {
        guard position < entries.count, let reader else {
            reader?.close()
            return nil
        }
        let entry = entries[position]
        position += 1
        return ScanItem(path: entry.path, content: try reader.next(limit: sizeLimit).content, origin: .index, isCommitted: true)
    }
}
