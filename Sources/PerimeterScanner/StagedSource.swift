/// The blobs staged in the index that differ from `HEAD`: what the next commit would add, for a
/// pre-commit hook. A new repository without `HEAD` compares with the empty tree.
public struct StagedSource: ScanSource {
    private var blobs: BlobSource

    public init(git: Git, sizeLimit: Int) throws {
        let output = try git.run(["diff", "--cached", "--raw", "-z", "--no-abbrev", "--no-renames", "--diff-filter=d"])
        let entries = RawDiff.entries(output[...]).map { BlobSource.Entry(blob: $0.blob, path: $0.path, origin: .index) }
        blobs = try BlobSource(git: git, entries: entries, sizeLimit: sizeLimit)
    }

    public mutating func next() throws -> ScanItem? { try blobs.next() }
}
