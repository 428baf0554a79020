import Foundation

@testable import PerimeterScanner

/// A git repository the test builds in a temporary directory, with local user settings.
struct FixtureRepository {
    let directory: String
    let git: Git

    init() throws {
        directory = NSTemporaryDirectory() + "perimeter-scan-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        git = Git(directory: directory)
        try run("init", "-q", "-b", "main")
        try run("config", "user.name", "Fixture")
        try run("config", "user.email", "fixture@example.org")
        try run("config", "commit.gpgsign", "false")
    }

    func write(_ path: String, _ text: String) throws {
        let url = URL(fileURLWithPath: directory).appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    func remove(_ path: String) throws {
        try run("rm", "-q", path)
    }

    /// Stages everything and commits as `author`; returns the commit's id.
    @discardableResult
    func commit(_ message: String, author: String) throws -> String {
        try run("add", "-A")
        try run("-c", "user.name=\(author)", "-c", "user.email=\(author.lowercased())@example.org", "commit", "-q", "-m", message)
        return try git.text(["rev-parse", "HEAD"])
    }

    @discardableResult
    func run(_ arguments: String...) throws -> String {
        try git.text(arguments)
    }

    func delete() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}
