/// Blobs read in order through one `git cat-file --batch`, each reported under its own path and
/// origin: what the history and staged sources have in common.
struct BlobSource: ScanSource {
    struct Entry {
        var blob: String
        var path: String
        var origin: ScanItem.Origin
    }

    let entries: [Entry]
    private var position = 0
    private let reader: BlobReader?
    private let sizeLimit: Int

    init(git: Git, entries: [Entry], sizeLimit: Int) throws {
        self.entries = entries
        reader = entries.isEmpty ? nil : try BlobReader(git: git, ids: entries.map(\.blob))
        self.sizeLimit = sizeLimit
    }

    mutating func next() throws -> ScanItem? {
        guard position < entries.count, let reader else {
            reader?.close()
            return nil
        }
        let entry = entries[position]
        position += 1
        let content = try reader.next(limit: sizeLimit).content
        return ScanItem(path: entry.path, content: content, origin: entry.origin, isCommitted: true)
    }
}
