/// Every blob in a repository's history, across all refs, each read once and attributed to the
/// commit and path where it first appeared.
///
/// One `git log --all --reverse --topo-order --raw --diff-merges=first-parent` lists what each
/// commit added, parents first; a merge shows its diff against its first parent, so a line that
/// exists only in a merge's resolution is a new blob of the merge. One `git cat-file --batch` then
/// reads each distinct blob.
public struct GitHistorySource: ScanSource {
    private var blobs: BlobSource

    /// `since`: only commits not reachable from this revision (`--since REV`).
    public init(git: Git, since: String? = nil, sizeLimit: Int) throws {
        blobs = try BlobSource(git: git, entries: try Self.firstAppearances(git: git, since: since), sizeLimit: sizeLimit)
    }

    /// How many distinct blobs history holds.
    public var blobCount: Int { blobs.entries.count }

    public mutating func next() throws -> ScanItem? { try blobs.next() }

    static func firstAppearances(git: Git, since: String?) throws -> [BlobSource.Entry] {
        var arguments = [
            "log", "--all", "--reverse", "--topo-order", "--no-renames", "--raw", "--no-abbrev", "-z",
            "--diff-merges=first-parent", "--format=%x01%H%x1f%an%x1f%ae%x1f%aI",
        ]
        if let since {
            _ = try git.text(["rev-parse", "--verify", "--quiet", since + "^{commit}"])
            arguments += ["--not", since]
        }
        let output = try git.run(arguments)
        var seen = Set<String>()
        var appearances: [BlobSource.Entry] = []
        var order = 0
        for record in output.split(separator: 0x01) {
            guard let headerEnd = record.firstIndex(of: 0) else { continue }
            let header = record[record.startIndex..<headerEnd].split(separator: 0x1F, omittingEmptySubsequences: false)
                .map { String(decoding: $0, as: UTF8.self) }
            guard header.count == 4 else { continue }
            let commit = Commit(sha: header[0], author: header[1], email: header[2], date: header[3], order: order)
            order += 1
            for entry in RawDiff.entries(record[(headerEnd + 1)...]) where seen.insert(entry.blob).inserted {
                appearances.append(BlobSource.Entry(blob: entry.blob, path: entry.path, origin: .history(commit)))
            }
        }
        return appearances
    }
}
