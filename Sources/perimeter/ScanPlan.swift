import Foundation
import PerimeterScanner

/// What `perimeter scan` reads, decided from its flags and the directory: the working tree, git
/// history, or only the index.
struct ScanPlan {
    /// The scanned directory: a repository's top level when it is inside one.
    let root: String
    let git: Git?
    let history: Bool
    let staged: Bool
    let since: String?
    let sizeLimit: Int

    init(path: String?, history: Bool?, staged: Bool, since: String?, sizeLimit: Int) throws {
        let directory = URL(fileURLWithPath: path ?? ".").standardizedFileURL.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CLIError("\(directory) is not a directory")
        }
        let candidate = Git.locate().map { Git(directory: directory, executable: $0) }
        let top = candidate.flatMap { $0.isRepository ? try? $0.text(["rev-parse", "--show-toplevel"]) : nil }
        git = top.map { Git(directory: $0, executable: candidate?.executable ?? "git") }
        root = top ?? directory
        if staged, git == nil { throw CLIError("--staged needs a git repository, and \(directory) is not in one") }
        if history == true, git == nil { throw CLIError("--history needs a git repository, and \(directory) is not in one") }
        self.history = !staged && (history ?? (git != nil))
        if since != nil, !self.history { throw CLIError("--since applies to history, which this scan does not read") }
        self.staged = staged
        self.since = since
        self.sizeLimit = sizeLimit
    }

    func makeSource() throws -> any ScanSource {
        if staged, let git { return try StagedSource(git: git, sizeLimit: sizeLimit) }
        var sources: [any ScanSource] = []
        if history, let git { sources.append(try GitHistorySource(git: git, since: since, sizeLimit: sizeLimit)) }
        sources.append(try WorkingTreeSource(root: root, git: git, sizeLimit: sizeLimit))
        return ChainedSource(sources)
    }
}
