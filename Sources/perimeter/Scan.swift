import ArgumentParser
import Foundation
import NIOCore
import PerimeterCore
import PerimeterScanner

/// `perimeter scan`: LLM provider keys, cloud keys and Perimeter keys in a directory, its git
/// history and its index; marks the keys the gateway manages, and can revoke them.
struct Scan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find leaked API keys in files and git history.",
        discussion: """
            Scans the working tree and, in a git repository, every blob of its history (all refs). Exits 0 when \
            nothing is found, --exit-code (default 1) when findings remain after the baseline and inline \
            `perimeter:allow` comments, 2 when the scan itself fails. With PERIMETER_URL and an admin token, \
            findings that are keys the gateway manages carry their key id. --sweep reads what git ignores and \
            what is in no repository (the home directory by default): .env files, shell rc and history files, \
            notebooks, tool settings, source files; --report --owner NAME tells the gateway whose machine it was.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, json, sarif
    }

    @Argument(help: "Directory to scan (default: the current directory); with --sweep, any number (default: $HOME).")
    var paths: [String] = []
    @Flag(help: "Sweep a machine: every file outside caches, dependencies and build outputs, git-ignored ones included.")
    var sweep = false
    @Flag(inversion: .prefixedNo, help: "Scan git history across all refs (default: on in a git repository).")
    var history: Bool?
    @Flag(help: "Scan only what is staged in the index (for a pre-commit hook).") var staged = false
    @Option(help: "Scan only history not reachable from this revision.") var since: String?
    @Option(help: "Output: text, json or sarif.") var format: Format = .text
    @Option(help: "Baseline file of accepted findings (default: .perimeter-baseline.json in the scanned directory, if present).")
    var baseline: String?
    @Flag(help: "Write every current finding to the baseline file and exit 0.") var updateBaseline = false
    @Flag(help: "Send the findings (never the secrets) to the gateway: POST /admin/v1/findings.") var report = false
    @Option(help: "With --report: whose machine this is; the report carries it and this machine's hostname.")
    var owner: String?
    @Flag(help: "Revoke each finding that is a virtual key the gateway manages.") var revoke = false
    @Option(help: "Exit status when findings remain.") var exitCode: Int32 = 1
    @Option(help: "Files and blobs larger than this many bytes are not read.") var maxFileSize = 10 << 20
    @Option(help: "Seconds one request to the gateway may take (it must connect within 2).") var gatewayTimeout: Double = 10
    @OptionGroup var output: OutputOptions

    static let defaultBaselineName = ".perimeter-baseline.json"

    func run() async throws {
        do {
            try await scan()
        } catch let exit as ExitCode {
            throw exit
        } catch {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }

    private func scan() async throws {
        let owner = try reportOwner()
        let source: any ScanSource
        let baselineDirectory: String
        var progress: SweepProgress?
        if sweep {
            let plan = try SweepPlan(
                paths: paths, history: history, staged: staged, since: since, environment: ProcessInfo.processInfo.environment)
            let counts = SweepProgress()
            source = SweepSource(roots: plan.roots, home: plan.home, sizeLimit: maxFileSize, progress: counts)
            baselineDirectory = plan.home ?? plan.roots[0]
            progress = counts
        } else {
            guard paths.count <= 1 else { throw CLIError("scan takes one directory; several only with --sweep") }
            let plan = try ScanPlan(path: paths.first, history: history, staged: staged, since: since, sizeLimit: maxFileSize)
            source = try plan.makeSource()
            baselineDirectory = plan.root
        }
        let scanner = Scanner()
        let line = progress.flatMap { output.json || format == .json ? nil : ProgressLine.start($0) }
        var findings: [Finding]
        do {
            findings = try scanner.scan(source)
        } catch {
            line?.stop()
            throw error
        }
        line?.stop()
        let skipped = scanner.counters.archiveEntriesSkipped
        let baselinePath = baseline ?? (baselineDirectory as NSString).appendingPathComponent(Self.defaultBaselineName)
        if updateBaseline {
            try Baseline(findings: findings).encoded().write(to: URL(fileURLWithPath: baselinePath))
            return print("Wrote \(findings.count) finding(s) to the baseline \(baselinePath).")
        }
        var accepted: [Finding] = []
        if let data = FileManager.default.contents(atPath: baselinePath) {
            (findings, accepted) = try Baseline.load(from: data).filter(findings)
        } else if baseline != nil {
            throw CLIError("no baseline file at \(baselinePath); create it with --update-baseline")
        }
        guard gatewayTimeout > 0, gatewayTimeout <= 3600 else { throw CLIError("--gateway-timeout must be between 0 and 3600 seconds") }
        let gateway = ScanGateway.fromEnvironment(timeout: .milliseconds(Int64(gatewayTimeout * 1000)))
        let checked = await gateway?.markManaged(&findings) ?? false
        if revoke { try await requireGateway(gateway, checked, for: "--revoke").revoke(findings) }
        if report {
            try await requireGateway(gateway, checked, for: "--report").report(
                findings, owner: owner.map { (name: $0, hostname: SweepPlan.hostname()) })
        }
        try render(
            findings, accepted: accepted.count, skipped: skipped, gateway: checked ? gateway?.client.baseURL : nil, sweep: progress)
        if !findings.isEmpty { throw ExitCode(exitCode) }
    }

    private func requireGateway(_ gateway: ScanGateway?, _ checked: Bool, for flag: String) throws -> ScanGateway {
        guard let gateway, checked else {
            throw CLIError("\(flag) needs a reachable gateway: set PERIMETER_URL and PERIMETER_ADMIN_TOKEN")
        }
        return gateway
    }

    /// `--owner`, trimmed, when the flags allow it: only with `--report`, and required by a sweep's report.
    private func reportOwner() throws -> String? {
        let owner = owner?.trimmingCharacters(in: .whitespaces)
        if owner != nil, !report { throw CLIError("--owner goes with --report") }
        if let owner, owner.isEmpty || owner.unicodeScalars.count > 128 || owner.unicodeScalars.contains(where: { $0.value < 0x20 }) {
            throw CLIError("--owner must be 1 to 128 characters without control characters")
        }
        if sweep, report, owner == nil { throw CLIError("--sweep --report needs --owner NAME: whose machine this is") }
        return owner
    }

    private func render(_ findings: [Finding], accepted: Int, skipped: Int, gateway: String?, sweep: SweepProgress?) throws {
        if skipped > 0, !output.json, format != .json {
            FileHandle.standardError.write(
                Data(
                    "perimeter: \(skipped) archive entr\(skipped == 1 ? "y was" : "ies were") not read (over a size limit, encrypted or corrupt)\n"
                        .utf8))
        }
        switch output.json ? .json : format {
        case .json:
            var summary = ["baselined": accepted, "archive_entries_skipped": skipped]
            if let sweep {
                summary["files_read"] = sweep.files
                summary["bytes_read"] = sweep.bytes
                summary["files_over_size_limit"] = sweep.filesOverSizeLimit
                summary["directories_skipped"] = sweep.directoriesSkipped
                summary["unreadable"] = sweep.unreadablePaths
            }
            let data = try JSONReport.render(findings, summary: summary, gateway: gateway)
            print(String(decoding: data, as: UTF8.self))
        case .sarif:
            let version = PerimeterCommand.configuration.version.isEmpty ? "0.0.0" : PerimeterCommand.configuration.version
            let data = try SARIFReport.render(findings, rules: RuleCatalog.all, toolVersion: version)
            print(String(decoding: data, as: UTF8.self))
        case .text:
            if let sweep { print(Self.sweepSummary(sweep)) }
            guard !findings.isEmpty else {
                return print("No leaked keys found." + (accepted > 0 ? " \(accepted) finding(s) accepted by the baseline." : ""))
            }
            print(TextTable.render(headers: TextReport.headers, rows: TextReport.rows(findings)))
            print(
                "\n\(findings.count) finding(s)" + (accepted > 0 ? ", \(accepted) more accepted by the baseline" : "")
                    + (sweep == nil ? ". Revoke or rotate each key, then remove it from history." : Self.sweepAdvice(findings)))
            if gateway == nil {
                print(
                    "No gateway was asked: Perimeter keys are classified managed by their format, every other key provider_key. "
                        + "Set PERIMETER_URL and PERIMETER_ADMIN_TOKEN to tell the keys the gateway holds.")
            }
        }
    }

    /// What to do about a sweep's findings, the critical ones first.
    static func sweepAdvice(_ findings: [Finding]) -> String {
        let held = findings.filter { $0.classification == .providerKeyHeldByGateway }.count
        let raw = findings.filter { $0.classification == .providerKey }.count
        var advice = "."
        if held > 0 { advice += " Critical: \(held) of them the gateway's own provider key, outside it: rotate it at once." }
        if raw > 0 { advice += " Replace each provider_key with a virtual key." }
        return advice
    }

    static func sweepSummary(_ sweep: SweepProgress) -> String {
        var parts = ["Swept \(sweep.files.formatted()) files (\(ProgressLine.byteCount(sweep.bytes)))"]
        if sweep.directoriesSkipped > 0 {
            parts.append("\(sweep.directoriesSkipped.formatted()) cache, dependency or build directories skipped")
        }
        if sweep.filesOverSizeLimit > 0 { parts.append("\(sweep.filesOverSizeLimit.formatted()) files over --max-file-size not read") }
        if sweep.unreadablePaths > 0 { parts.append("\(sweep.unreadablePaths.formatted()) paths unreadable") }
        return parts.joined(separator: "; ") + "."
    }
}
