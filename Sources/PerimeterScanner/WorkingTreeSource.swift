import Foundation

/// The files under a directory. In a git work tree: tracked and untracked files that are not
/// ignored (`git ls-files --cached --others --exclude-standard`), since ignored files are never
/// committed; elsewhere every regular file, `.git` directories excluded. Symbolic links are not
/// followed; files over the size limit are listed without content.
public struct WorkingTreeSource: ScanSource {
    struct File {
        var path: String
        var isTracked: Bool
    }

    let root: String
    let files: [File]
    private var position = 0
    private let sizeLimit: Int

    public init(root: String, git: Git?, sizeLimit: Int) throws {
        self.root = root
        self.sizeLimit = sizeLimit
        if let git {
            let output = try git.run(["ls-files", "-z", "-t", "--cached", "--others", "--exclude-standard"])
            var seen = Set<String>()
            files = output.split(separator: 0).compactMap { field in
                guard field.count > 2 else { return nil }
                let path = String(decoding: field.dropFirst(2), as: UTF8.self)
                guard seen.insert(path).inserted else { return nil }
                return File(path: path, isTracked: field.first != 0x3F)  // "? " marks untracked files
            }
        } else {
            files = Self.walk(root).map { File(path: $0, isTracked: false) }
        }
    }

    public mutating func next() throws -> ScanItem? {
        while position < files.count {
            let file = files[position]
            position += 1
            let url = URL(fileURLWithPath: root).appendingPathComponent(file.path)
            guard let values = try? url.resourceValues(forKeys: [.isRegularFileKey, .fileSizeKey]), values.isRegularFile == true
            else { continue }
            let content = (values.fileSize ?? 0) > sizeLimit ? nil : (try? Data(contentsOf: url)).map { [UInt8]($0) }
            return ScanItem(path: file.path, content: content, origin: .workingTree, isCommitted: file.isTracked)
        }
        return nil
    }

    static func walk(_ root: String) -> [String] {
        let base = URL(fileURLWithPath: root).standardizedFileURL
        guard
            let enumerator = FileManager.default.enumerator(
                at: base, includingPropertiesForKeys: [.isRegularFileKey, .isDirectoryKey], options: [])
        else { return [] }
        var paths: [String] = []
        let prefix = base.path.hasSuffix("/") ? base.path : base.path + "/"
        for case let url as URL in enumerator {
            let values = try? url.resourceValues(forKeys: [.isRegularFileKey, .isDirectoryKey])
            if values?.isDirectory == true, url.lastPathComponent == ".git" {
                enumerator.skipDescendants()
                continue
            }
            guard values?.isRegularFile == true else { continue }
            let path = url.standardizedFileURL.path
            paths.append(path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path)
        }
        return paths.sorted()
    }
}
