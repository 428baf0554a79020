import Foundation
import PerimeterCore
import Testing

@testable import PerimeterScanner

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A directory tree made for one test, removed when it ends.
struct SweepTree: ~Copyable {
    let root: String

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("perimeter-sweep-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// Writes `text` at `path` (relative), creating its directories.
    func write(_ path: String, _ text: String = "hello\n") throws {
        try write(path, bytes: Array(text.utf8))
    }

    func write(_ path: String, bytes: [UInt8]) throws {
        let url = URL(fileURLWithPath: root).appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
    }

    func link(_ path: String, to destination: String) throws {
        try FileManager.default.createSymbolicLink(atPath: root + "/" + path, withDestinationPath: destination)
    }

    /// Every path the sweep reads, as it names them, with the source's counts.
    func swept(roots: [String]? = nil, sizeLimit: Int = 1 << 20) throws -> (paths: [String], progress: SweepProgress) {
        var source = SweepSource(roots: roots ?? [root], home: root, sizeLimit: sizeLimit)
        var paths: [String] = []
        while let item = try source.next() { paths.append(item.path) }
        return (paths, source.progress)
    }
}

@Suite struct SweepSourceTests {
    @Test func readsIgnoredAndUntrackedFilesButSkipsCachesDependenciesAndBuildOutputs() throws {
        let tree = try SweepTree()
        let read = [
            ".zsh_history", ".bashrc", ".netrc", ".config/openai/config.json", ".claude.json", ".continue/config.yaml",
            "src/app/.env", "src/app/.env.local", "src/app/.gitignore", "src/app/main.py", "notes/analysis.ipynb",
            "Library/Preferences/tool.plist", ".cargo/config.toml", ".config/Code/User/settings.json",
        ]
        let skipped = [
            "src/app/node_modules/pkg/index.js", "src/app/.venv/lib/x.py", "src/app/venv/bin/activate", "src/app/.build/debug/x",
            "src/app/build/out.js", "src/app/dist/bundle.js", "src/app/target/release/x", "src/app/.git/config",
            "src/app/.git/objects/ab/cdef", "src/app/__pycache__/m.pyc", "lib/python3.12/site-packages/pkg/m.py",
            "Library/Caches/tool/blob", ".cache/pip/wheel", ".npm/_cacache/index", ".cargo/registry/src/crate/lib.rs",
            ".rustup/toolchains/x", "Library/Developer/Xcode/DerivedData/App/Build/x", ".gradle/caches/x",
            ".config/Code/Cache/data_1", ".config/Code/CachedData/x", "env-named-oddly/lib/site.py",
        ]
        for path in read + skipped { try tree.write(path) }
        try tree.write("env-named-oddly/pyvenv.cfg", "home = /usr/bin\n")
        let (paths, progress) = try tree.swept()
        #expect(Set(paths) == Set(read.map { "~/" + $0 }))
        #expect(paths.count == read.count)
        #expect(progress.files == read.count && progress.directoriesSkipped >= 15)
    }

    @Test func aRootThatIsItselfASkippedNameIsRead() throws {
        let tree = try SweepTree()
        try tree.write("build/config.json")
        #expect(try tree.swept(roots: [tree.root + "/build/"]).paths == ["~/build/config.json"])
    }

    @Test func symbolicLinksAreNotFollowedSoLoopsAndOutsideTreesCostNothing() throws {
        let tree = try SweepTree()
        let outside = try SweepTree()
        try outside.write("secret.txt")
        try tree.write("a/b/file.txt")
        try tree.link("a/b/loop", to: "..")
        try tree.link("a/self", to: tree.root + "/a")
        try tree.link("a/out", to: outside.root)
        try tree.link("a/out-file.txt", to: outside.root + "/secret.txt")
        try tree.link("a/dangling", to: tree.root + "/nowhere")
        let (paths, _) = try tree.swept()
        #expect(paths == ["~/a/b/file.txt"])
    }

    @Test func eachDirectoryIsListedOnceWhenRootsOverlap() throws {
        let tree = try SweepTree()
        try tree.write("src/app/main.py")
        try tree.write("top.txt")
        let (paths, _) = try tree.swept(roots: [tree.root, tree.root + "/src", tree.root])
        #expect(paths.sorted() == ["~/src/app/main.py", "~/top.txt"])
    }

    @Test func filesOverTheSizeLimitAreCountedNotRead() throws {
        let tree = try SweepTree()
        try tree.write("small.txt", String(repeating: "a", count: 100))
        try tree.write("exact.txt", String(repeating: "a", count: 1000))
        try tree.write("large.log", String(repeating: "a", count: 1001))
        let (paths, progress) = try tree.swept(sizeLimit: 1000)
        #expect(paths == ["~/exact.txt", "~/small.txt"])
        #expect(progress.filesOverSizeLimit == 1 && progress.bytes == 1100)
    }

    @Test func binaryFilesAreReadOnlyAsFarAsTheProbeButZipArchivesWhole() throws {
        let tree = try SweepTree()
        try tree.write("image.bin", bytes: [0x89, 0x50, 0x00] + Array(repeating: 0x41, count: 50_000))
        try tree.write("bundle.zip", bytes: [0x50, 0x4B, 0x03, 0x04, 0x00] + Array(repeating: 0x41, count: 50_000))
        var source = SweepSource(roots: [tree.root], home: nil, sizeLimit: 1 << 20)
        var sizes: [String: Int] = [:]
        while let item = try source.next() { sizes[URL(fileURLWithPath: item.path).lastPathComponent] = item.content?.count }
        #expect(sizes == ["image.bin": Scanner.binaryProbeLength, "bundle.zip": 50_005])
    }

    @Test func aFIFOIsNeverOpenedSoTheSweepCannotHang() throws {
        let tree = try SweepTree()
        try tree.write("plain.txt")
        #expect(mkfifo(tree.root + "/pipe", 0o600) == 0)
        #expect(try tree.swept().paths == ["~/plain.txt"])
    }

    @Test func pathsOutsideTheHomeDirectoryStayAbsolute() throws {
        let tree = try SweepTree()
        try tree.write("x/y.txt")
        var source = SweepSource(roots: [tree.root + "/x"], home: "/nonexistent-home", sizeLimit: 1 << 20)
        #expect(try source.next()?.path == tree.root + "/x/y.txt")
        let homed = SweepSource(roots: [], home: tree.root + "/", sizeLimit: 1)
        #expect(homed.displayed(tree.root) == "~" && homed.displayed(tree.root + "x/y") == tree.root + "x/y")
    }

    @Test func theScannerFindsPlantedKeysAndNotTheDecoyInNodeModules() throws {
        var keys = FakeKeys(seed: 77)
        let history = keys.openAIProject()
        let decoy = keys.groq()
        let notebook = keys.anthropic()
        let tree = try SweepTree()
        try tree.write(".zsh_history", ": 1700000000:0;export OPENAI_API_KEY=\(history)\n")
        try tree.write("src/app/node_modules/pkg/.env", "GROQ_API_KEY=\(decoy)\n")
        try tree.write("src/app/.env", "GROQ_API_KEY=\(keys.groq())\n")
        try tree.write("notes/n.ipynb", #"{"cells": [{"source": ["client = Anthropic(api_key=\"\#(notebook)\")"]}]}"#)
        let findings = try Scanner().scan(SweepSource(roots: [tree.root], home: tree.root, sizeLimit: 1 << 20))
        #expect(findings.map(\.path) == ["~/.zsh_history", "~/notes/n.ipynb", "~/src/app/.env"])
        #expect(!findings.contains { $0.secret.revealed == decoy })
        // An ignored .env is a finding for what it holds, never for being there.
        #expect(!findings.contains { $0.ruleID == "env-file-committed" })
    }
}
