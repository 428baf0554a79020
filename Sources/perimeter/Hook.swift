import ArgumentParser
import Foundation
import PerimeterScanner

/// `perimeter hook install`: a git pre-commit hook that runs `perimeter scan --staged`.
struct Hook: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Install a git pre-commit hook that blocks commits adding API keys.",
        subcommands: [Install.self])

    struct Install: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the repository's pre-commit hook: `perimeter scan --staged --no-history`.")
        @Argument(help: "The repository (default: the current directory).") var path: String?
        @Flag(help: "Replace an existing pre-commit hook.") var force = false
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let directory = URL(fileURLWithPath: path ?? ".").standardizedFileURL.path
            let git = Git(directory: directory)
            guard git.isRepository else { throw CLIError("\(directory) is not in a git repository") }
            // `--git-path` follows core.hooksPath and linked worktrees.
            let hooks = try git.text(["rev-parse", "--path-format=absolute", "--git-path", "hooks"])
            let hook = (hooks as NSString).appendingPathComponent("pre-commit")
            if FileManager.default.fileExists(atPath: hook), !force {
                throw CLIError("\(hook) already exists; add `perimeter scan --staged --no-history` to it, or use --force to replace it")
            }
            try FileManager.default.createDirectory(atPath: hooks, withIntermediateDirectories: true)
            try Data(Self.script(perimeter: Self.executablePath()).utf8).write(to: URL(fileURLWithPath: hook))
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: hook)
            if output.json {
                Display.printJSON(try JSONSerialization.data(withJSONObject: ["hook": hook, "installed": true]))
            } else {
                print("Installed \(hook): each commit is scanned for API keys first (skip once with git commit --no-verify).")
            }
        }

        static func script(perimeter: String) -> String {
            """
            #!/bin/sh
            # Installed by `perimeter hook install`: refuses a commit that adds an API key.
            # Accept a finding with a `perimeter:allow` comment on its line, or in .perimeter-baseline.json.
            PERIMETER="${PERIMETER:-\(perimeter)}"
            command -v "$PERIMETER" >/dev/null 2>&1 || PERIMETER=perimeter
            exec "$PERIMETER" scan --staged --no-history

            """
        }

        /// This binary's absolute path, so the hook runs the same perimeter whatever PATH says.
        static func executablePath() -> String {
            let argument = CommandLine.arguments.first ?? "perimeter"
            guard argument.contains("/") else { return argument }
            return URL(fileURLWithPath: argument).standardizedFileURL.path
        }
    }
}
