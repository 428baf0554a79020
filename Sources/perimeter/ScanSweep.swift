import Dispatch
import Foundation
import PerimeterScanner

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What `perimeter scan --sweep` reads: directories of a developer's machine, the home directory
/// by default, without git (ignored files are what it is for).
struct SweepPlan {
    let roots: [String]
    let home: String?

    init(paths: [String], history: Bool?, staged: Bool, since: String?, environment: [String: String]) throws {
        if staged || history == true || since != nil {
            throw CLIError("--sweep reads files, not git: it takes no --staged, --history or --since")
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0).standardizedFileURL.path }
        let requested = paths.isEmpty ? home.map { [$0] } : paths
        guard let requested else { throw CLIError("--sweep without a directory sweeps $HOME, which is not set") }
        roots = try requested.map { path in
            let directory = URL(fileURLWithPath: path).standardizedFileURL.path
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw CLIError("\(directory) is not a directory")
            }
            return directory
        }
        self.home = home
    }

    /// This machine's name as the C library has it (no DNS lookup), for `--report --owner`.
    static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        let name = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespaces)
        return name.isEmpty ? "unknown" : name
    }
}

/// The sweep's progress on a terminal: one line on standard error, rewritten ten times a second
/// (files and bytes read, the directory being listed) and erased when the sweep ends.
final class ProgressLine {
    private let queue = DispatchQueue(label: "perimeter.sweep.progress")
    private let timer: any DispatchSourceTimer

    /// A running progress line, or `nil` when standard error is not a terminal.
    static func start(_ progress: SweepProgress) -> ProgressLine? {
        guard isatty(2) == 1 else { return nil }
        return ProgressLine(progress)
    }

    private init(_ progress: SweepProgress) {
        timer = DispatchSource.makeTimerSource(queue: queue)
        let width = Self.terminalWidth()
        timer.setEventHandler {
            Self.emit("\r\u{1B}[K" + Self.line(progress, width: width))
        }
        timer.schedule(deadline: .now(), repeating: .milliseconds(100))
        timer.resume()
    }

    /// Stops the updates and erases the line.
    func stop() {
        queue.sync {
            timer.cancel()
            Self.emit("\r\u{1B}[K")
        }
    }

    static func line(_ progress: SweepProgress, width: Int) -> String {
        let head = "Sweeping: \(progress.files.formatted()) files, \(byteCount(progress.bytes)) read  "
        let room = max(0, width - 1 - head.count)
        let directory = Display.printable(progress.directory)
        guard room > 1 else { return String(head.prefix(max(0, width - 1))) }
        return head + (directory.count <= room ? directory : "…" + directory.suffix(room - 1))
    }

    /// `812 B`, `4.2 MB`, `1.3 GB`: decimal units, as disks are sold.
    static func byteCount(_ bytes: Int) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1000, unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }

    private static func terminalWidth() -> Int {
        var size = winsize()
        guard ioctl(2, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }

    private static func emit(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }
}
