import Foundation
import Synchronization

/// `git` as a subprocess (Foundation `Process`), in one repository.
public struct Git: Sendable {
    public var directory: String
    public var executable: String

    public init(directory: String, executable: String = Git.locate() ?? "/usr/bin/git") {
        self.directory = directory
        self.executable = executable
    }

    /// The first `git` on PATH.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        let paths = (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":")
        return paths.map { "\($0)/git" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs `git ARGS` and returns its standard output; throws with its standard error when it fails.
    public func run(_ arguments: [String]) throws -> [UInt8] {
        let process = makeProcess(arguments)
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let errorText = Mutex<Data>(Data())
        let drained = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            let data = errors.fileHandleForReading.readDataToEndOfFile()
            errorText.withLock { $0 = data }
            drained.signal()
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        drained.wait()
        guard process.terminationStatus == 0 else {
            let message = String(decoding: errorText.withLock { $0 }, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw GitError(arguments: arguments, status: process.terminationStatus, message: message)
        }
        return [UInt8](data)
    }

    /// Runs `git ARGS` and returns its output as text, trailing newline removed.
    public func text(_ arguments: [String]) throws -> String {
        String(decoding: try run(arguments), as: UTF8.self).trimmingCharacters(in: .newlines)
    }

    /// Whether `directory` is inside a git work tree.
    public var isRepository: Bool {
        (try? text(["rev-parse", "--is-inside-work-tree"])) == "true"
    }

    func makeProcess(_ arguments: [String]) -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        // No pager, no prompts, paths as bytes; the repository's own settings otherwise apply.
        process.arguments = ["-c", "core.quotepath=off", "-C", directory] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["GIT_TERMINAL_PROMPT"] = "0"
        environment["GIT_PAGER"] = "cat"
        environment["LC_ALL"] = "C"
        process.environment = environment
        return process
    }
}

/// A git command that failed.
public struct GitError: Error, CustomStringConvertible {
    public var arguments: [String]
    public var status: Int32
    public var message: String

    public var description: String {
        "git \(arguments.prefix(2).joined(separator: " ")) failed (exit \(status))" + (message.isEmpty ? "" : ": \(message)")
    }
}
