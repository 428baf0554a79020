/// Parses git's `--raw -z` entries (`:old-mode new-mode old-id new-id status NUL path NUL`), as
/// printed by `git log --raw` and `git diff --raw`.
enum RawDiff {
    struct Entry: Equatable {
        var blob: String
        var path: String
    }

    /// The blobs each entry adds or changes; deletions and submodules (mode 160000) are left out.
    static func entries(_ bytes: ArraySlice<UInt8>) -> [Entry] {
        var entries: [Entry] = []
        var fields = bytes.split(separator: 0, omittingEmptySubsequences: false).makeIterator()
        while let meta = fields.next() {
            let trimmed = meta.drop { $0 == 0x0A }
            guard trimmed.first == 0x3A, let path = fields.next() else { continue }
            let parts = trimmed.dropFirst().split(separator: 0x20)
            guard parts.count >= 5 else { continue }
            let mode = String(decoding: parts[1], as: UTF8.self)
            let blob = String(decoding: parts[3], as: UTF8.self)
            guard mode != "160000", !blob.allSatisfy({ $0 == "0" }) else { continue }
            entries.append(Entry(blob: blob, path: String(decoding: path, as: UTF8.self)))
        }
        return entries
    }
}
