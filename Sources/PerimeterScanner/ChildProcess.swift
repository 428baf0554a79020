#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A child process started with `posix_spawn`, its standard streams on pipes or `/dev/null`.
///
/// Foundation's `Process` needs a run loop whose wakeup uses a socket pair; in a network namespace
/// without loopback (a common sandbox for hooks and CI steps) that fails and `waitUntilExit` never
/// returns. This depends on nothing but the C library: spawn, read and write the pipes, `waitpid`.
/// (Package access: the secret stores run AWS's `credential_process` with it.)
package struct ChildProcess {
    package let pid: pid_t
    /// The write end of the child's standard input, when it reads from the parent.
    package let input: Int32?
    /// The read end of the child's standard output.
    package let output: Int32
    /// The read end of the child's standard error, when it is captured.
    package let errors: Int32?

    package struct SpawnError: Error, CustomStringConvertible {
        var executable: String
        var code: Int32
        package var description: String { "cannot start \(executable): \(String(cString: strerror(code)))" }
    }

    /// Starts `executable` with `arguments` and `environment`. Without `input`, the child reads
    /// `/dev/null`; without `captureErrors`, its standard error goes to `/dev/null` too.
    package static func spawn(
        executable: String, arguments: [String], environment: [String: String], input: Bool, captureErrors: Bool
    ) throws -> ChildProcess {
        var inputPipe: [Int32] = [-1, -1]
        var outputPipe: [Int32] = [-1, -1]
        var errorPipe: [Int32] = [-1, -1]
        func makePipe(_ ends: inout [Int32]) throws {
            // Close-on-exec: the child gets only the ends dup2'd onto its standard streams. (`pipe2` would
            // set it atomically but is not visible from Swift; the scanner spawns from one thread at a time.)
            guard pipe(&ends) == 0 else { throw SpawnError(executable: executable, code: errno) }
            for fd in ends { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        }
        var opened: [Int32] = []
        do {
            if input {
                try makePipe(&inputPipe)
                opened += inputPipe
            }
            try makePipe(&outputPipe)
            opened += outputPipe
            if captureErrors {
                try makePipe(&errorPipe)
                opened += errorPipe
            }
        } catch {
            for fd in opened { close(fd) }
            throw error
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if input {
            posix_spawn_file_actions_adddup2(&actions, inputPipe[0], 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, outputPipe[1], 1)
        if captureErrors {
            posix_spawn_file_actions_adddup2(&actions, errorPipe[1], 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        // The child's ends belong to the child now (or to nobody, if it did not start).
        if input { close(inputPipe[0]) }
        close(outputPipe[1])
        if captureErrors { close(errorPipe[1]) }
        guard status == 0 else {
            if input { close(inputPipe[1]) }
            close(outputPipe[0])
            if captureErrors { close(errorPipe[0]) }
            throw SpawnError(executable: executable, code: status)
        }
        return ChildProcess(
            pid: pid, input: input ? inputPipe[1] : nil, output: outputPipe[0], errors: captureErrors ? errorPipe[0] : nil)
    }

    /// Closes a descriptor (for types with a `close()` of their own).
    package static func closeDescriptor(_ fd: Int32) {
        close(fd)
    }

    /// Reads `fd` to its end.
    package static func readAll(_ fd: Int32) -> [UInt8] {
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            data.append(contentsOf: chunk[..<count])
        }
        return data
    }

    /// Writes all of `bytes` to `fd`; false when the reader went away.
    @discardableResult
    package static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return false }
            offset += count
        }
        return true
    }

    /// Waits for the child to end; its exit status, or 128 + the signal that ended it.
    package func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { return -1 }
        }
        return Self.exitCode(status)
    }

    /// Asks the child to stop (SIGTERM) unless it already has.
    package func terminate() {
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == 0 { kill(pid, SIGTERM) }
    }

    /// Reads `fd` to its end within `timeout`, at most `limit` bytes; nil when time ran out first or
    /// there was more. For a child that must not hold its caller for long.
    package static func readOutput(_ fd: Int32, limit: Int, timeout: Duration) -> [UInt8]? {
        let deadline = ContinuousClock.now + timeout
        var data: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 14)
        while true {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { return nil }
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(clamping: left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1)
            let ready = poll(&descriptor, 1, milliseconds)
            if ready < 0, errno != EINTR { return nil }
            guard ready > 0 else { continue }
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR || errno == EAGAIN { continue }
            guard count > 0 else { return count == 0 ? data : nil }
            data.append(contentsOf: chunk[..<count])
            if data.count > limit { return nil }
        }
    }

    /// Waits for the child to end within `timeout`; its status as ``wait()`` gives it, or nil after
    /// killing it (SIGKILL) when it had not ended by then.
    package func wait(timeout: Duration) -> Int32? {
        let deadline = ContinuousClock.now + timeout
        var status: Int32 = 0
        while true {
            let ended = waitpid(pid, &status, WNOHANG)
            if ended == pid { break }
            if ended < 0, errno != EINTR { return -1 }
            guard ContinuousClock.now < deadline else {
                kill(pid, SIGKILL)
                _ = wait()
                return nil
            }
            usleep(10_000)
        }
        return Self.exitCode(status)
    }

    /// A `waitpid` status as an exit code, or 128 + the signal that ended the child.
    private static func exitCode(_ status: Int32) -> Int32 {
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }
}
