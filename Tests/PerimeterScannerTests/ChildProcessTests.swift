import Testing

@testable import PerimeterScanner

/// git's children without Foundation's `Process`: pipes both ways, exit statuses, a missing program.
@Suite struct ChildProcessTests {
    @Test func pipesAndExitStatuses() throws {
        let cat = try ChildProcess.spawn(executable: "/bin/cat", arguments: [], environment: [:], input: true, captureErrors: false)
        let text = Array(String(repeating: "perimeter ", count: 20_000).utf8)  // more than a pipe holds
        let writer = cat.input!
        let written = Task.detached {
            ChildProcess.writeAll(writer, text)
            ChildProcess.closeDescriptor(writer)
        }
        #expect(ChildProcess.readAll(cat.output) == text)
        _ = written
        ChildProcess.closeDescriptor(cat.output)
        #expect(cat.wait() == 0)

        let failing = try ChildProcess.spawn(
            executable: "/bin/sh", arguments: ["-c", "echo oops >&2; exit 3"], environment: [:], input: false, captureErrors: true)
        #expect(String(decoding: ChildProcess.readAll(failing.errors!), as: UTF8.self) == "oops\n")
        #expect(ChildProcess.readAll(failing.output).isEmpty)
        #expect(failing.wait() == 3)
        #expect(throws: ChildProcess.SpawnError.self) {
            try ChildProcess.spawn(executable: "/nonexistent/git", arguments: [], environment: [:], input: false, captureErrors: false)
        }
    }
}
