import Foundation
import Testing

@testable import PerimeterScanner

/// History, index and working tree, on a repository built by the test.
@Suite struct GitSourceTests {
    @Test func historyFindsEachKeyOnceAtTheCommitThatIntroducedIt() throws {
        let repo = try FixtureRepository()
        defer { repo.delete() }
        var keys = FakeKeys(seed: 11)
        let deleted = keys.openAIProject()
        let sideKey = keys.groq()
        let mergeKey = keys.anthropic()
        let notebookKey = keys.huggingFace()
        let scriptKey = keys.gemini()

        // A key added, then deleted (and the file edited again: still one finding).
        try repo.write("app/settings.py", "DEBUG = True\nOPENAI_API_KEY = '\(deleted)'\n")
        let added = try repo.commit("settings", author: "Alice")
        try repo.write("app/settings.py", "DEBUG = True\nOPENAI_API_KEY = '\(deleted)'\nTIMEOUT = 3\n")
        try repo.commit("timeout", author: "Alice")
        try repo.write("app/settings.py", "DEBUG = True\nOPENAI_API_KEY = os.environ['OPENAI_API_KEY']\n")
        try repo.commit("read the key from the environment", author: "Bob")

        // A key on a side branch that is never merged.
        try repo.write("conf.txt", "value = 1\n")
        try repo.commit("conf", author: "Bob")
        try repo.run("checkout", "-q", "-b", "side")
        try repo.write("tools/groq.py", "client = Groq(api_key=\"\(sideKey)\")\n")
        let side = try repo.commit("side tool", author: "Carol")

        // A key that exists only in a merge's hand-made resolution.
        try repo.run("checkout", "-q", "-b", "feature", "main")
        try repo.write("conf.txt", "value = 2\n")
        try repo.commit("two", author: "Carol")
        try repo.run("checkout", "-q", "main")
        try repo.write("conf.txt", "value = 3\n")
        try repo.commit("three", author: "Bob")
        #expect(throws: GitError.self) { try repo.run("merge", "-q", "--no-edit", "feature") }
        try repo.write("conf.txt", "value = '\(mergeKey)'\n")
        let merge = try repo.commit("merge feature", author: "Dave")

        // A .env committed, then removed.
        try repo.write(".env", "DEBUG=1\n")
        let envAdded = try repo.commit("env", author: "Erin")
        try repo.remove(".env")
        try repo.commit("no env", author: "Erin")

        // Keys in a notebook's JSON and in a minified script.
        try repo.write("analysis.ipynb", #"{"cells":[{"source":["import os\n","os.environ[\"HF_TOKEN\"] = \"\#(notebookKey)\"\n"]}]}"#)
        try repo.write("web/app.min.js", String(repeating: "var a=function(b){return b};", count: 500) + "k=\"\(scriptKey)\";")
        let assets = try repo.commit("assets", author: "Frank")

        let source = ChainedSource([
            try GitHistorySource(git: repo.git, sizeLimit: 1 << 20),
            try WorkingTreeSource(root: repo.directory, git: repo.git, sizeLimit: 1 << 20),
        ])
        let findings = try Scanner().scan(source)
        let summary = findings.map { "\($0.ruleID) \($0.path):\($0.line) \($0.commit?.sha ?? "-") \($0.commit?.author ?? "-")" }
        #expect(
            Set(summary) == [
                "openai-api-key app/settings.py:2 \(added) Alice",
                "groq-api-key tools/groq.py:1 \(side) Carol",
                "anthropic-api-key conf.txt:1 \(merge) Dave",
                "env-file-committed .env:0 \(envAdded) Erin",
                "huggingface-token analysis.ipynb:1 \(assets) Frank",
                "google-ai-api-key web/app.min.js:1 \(assets) Frank",
            ], "\(summary.joined(separator: "\n"))")
        #expect(findings.count == 6)
        #expect(findings.first { $0.ruleID == "openai-api-key" }?.commit?.date.hasPrefix("20") == true)
        #expect(findings.first { $0.ruleID == "openai-api-key" }?.commit?.email == "alice@example.org")
    }

    @Test func sinceLimitsHistory() throws {
        let repo = try FixtureRepository()
        defer { repo.delete() }
        var keys = FakeKeys(seed: 12)
        try repo.write("a.py", "k = '\(keys.gemini())'\n")
        let first = try repo.commit("a", author: "Alice")
        try repo.write("b.py", "k = '\(keys.groq())'\n")
        try repo.commit("b", author: "Alice")
        let findings = try Scanner().scan(try GitHistorySource(git: repo.git, since: first, sizeLimit: 1 << 20))
        #expect(findings.map(\.path) == ["b.py"])
        #expect(throws: GitError.self) { try GitHistorySource(git: repo.git, since: "no-such-rev", sizeLimit: 1 << 20) }
    }

    @Test func stagedScansTheIndexOnly() throws {
        let repo = try FixtureRepository()
        defer { repo.delete() }
        var keys = FakeKeys(seed: 13)
        try repo.write("old.py", "k = '\(keys.gemini())'\n")
        try repo.commit("old", author: "Alice")
        let staged = keys.groq()
        try repo.write("new.py", "k = '\(staged)'\n")
        try repo.run("add", "new.py")
        try repo.write("unstaged.py", "k = '\(keys.anthropic())'\n")
        let findings = try Scanner().scan(try StagedSource(git: repo.git, sizeLimit: 1 << 20))
        #expect(findings.map(\.path) == ["new.py"])
        #expect(findings.first?.sourceName == "index" && findings.first?.commit == nil)
    }

    @Test func workingTreeSkipsBinaryLargeAndIgnoredFiles() throws {
        let repo = try FixtureRepository()
        defer { repo.delete() }
        var keys = FakeKeys(seed: 14)
        try repo.write(".gitignore", "secrets/\n")
        try repo.write("secrets/local.txt", keys.gemini())
        try repo.write("plain.txt", keys.gemini())
        try repo.write("image.bin", "\u{0}PNG" + keys.gemini())
        try repo.write("big.txt", String(repeating: "x", count: 2000) + keys.gemini())
        let source = try WorkingTreeSource(root: repo.directory, git: repo.git, sizeLimit: 1000)
        let findings = try Scanner().scan(source)
        #expect(findings.map(\.path) == ["plain.txt"])
        #expect(findings.first?.commit == nil && findings.first?.sourceName == "working-tree")

        let walked = try WorkingTreeSource(root: repo.directory, git: nil, sizeLimit: 1000)
        #expect(!walked.files.contains { $0.path.hasPrefix(".git/") } && walked.files.contains { $0.path == "image.bin" })
        #expect(try Scanner().scan(walked).map(\.path) == ["plain.txt", "secrets/local.txt"])
    }
}
