import Foundation
import Synchronization

/// `git` as a subprocess (``ChildProcess``), in one repository.
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
        let child = try spawn(arguments, input: false, captureErrors: true)
        // Standard error is drained on a thread of its own, so neither pipe can fill and stall git.
        let errorText = Mutex<[UInt8]>([])
        let drained = DispatchSemaphore(value: 0)
        let errorFD = child.errors!
        Thread.detachNewThread {
            let data = ChildProcess.readAll(errorFD)
            errorText.withLock { $0 = data }
            drained.signal()
        }
        let data = ChildProcess.readAll(child.output)
        close(child.output)
        let status = child.wait()
        drained.wait()
        close(errorFD)
        guard status == 0 else {
            let message = String(decoding: errorText.withLock { $0 }, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw GitError(arguments: arguments, status: status, message: message)
        }
        return data
    }

    /// Runs `git ARGS` and returns its output as text, trailing newline removed.
    public func text(_ arguments: [String]) throws -> String {
        String(decoding: try run(arguments), as: UTF8.self).trimmingCharacters(in: .newlines)
    }

    /// Whether `directory` is inside a git work tree.
    public var isRepository: Bool {
        (try? text(["rev-parse", "--is-inside-work-tree"])) == "true"
    }

    /// Starts `git ARGS` (see ``ChildProcess``: no run loop, so it works where Foundation's `Process`
    /// hangs, in a network namespace without loopback).
    func spawn(_ arguments: [String], input: Bool, captureErrors: Bool) throws -> ChildProcess {
        // No pager, no prompts, paths as bytes; the repository's own settings otherwise apply.
        var environment = ProcessInfo.processInfo.environment
        environment["GIT_TERMINAL_PROMPT"] = "0"
        environment["GIT_PAGER"] = "cat"
        environment["LC_ALL"] = "C"
        return try ChildProcess.spawn(
            executable: executable, arguments: ["-c", "core.quotepath=off", "-C", directory] + arguments, environment: environment,
            input: input, captureErrors: captureErrors)
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
