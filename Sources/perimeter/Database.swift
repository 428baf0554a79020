import ArgumentParser
import Foundation
import Logging
import PerimeterConfiguration
import PerimeterGateway

/// `perimeter db`: the gateway's own database.
struct Database: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db", abstract: "Work on the gateway's database.", subcommands: [Migrate.self, Copy.self])

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply the schema migrations the configured database lacks (the gateway also does at start).",
            discussion: """
                Reads the configuration as serve does. With --dry-run, prints the pending migrations (with \
                their SQL for PostgreSQL) and changes nothing.
                """)

        @Option(help: "YAML configuration file.")
        var config: String?

        @Option(help: "sqlite:PATH, postgres://USER@HOST:PORT/DB or memory; overrides the configuration.")
        var database: String?

        @Flag(help: "Print what would be applied; apply nothing.")
        var dryRun = false

        @OptionGroup var output: OutputOptions

        func run() async throws {
            let environment = ProcessInfo.processInfo.environment
            let configuration = try Serve.loadConfiguration(file: config, database: database, environment: environment)
            let plan = try await MigrationPlan.make(
                configuration: configuration, environment: environment, apply: !dryRun, logger: Logger(label: "perimeter"))
            if output.json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(plan), as: UTF8.self))
                return
            }
            guard !plan.pending.isEmpty else {
                print("\(plan.database): up to date.")
                return
            }
            print("\(plan.database): \(plan.pending.count) migration(s) \(plan.applied ? "applied" : "pending").")
            for step in plan.pending {
                print("\n-- \(step.name)")
                for statement in step.statements { print(statement + ";") }
            }
        }
    }

    struct Copy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy an installation to a new, empty database, and verify the copy.",
            discussion: """
                Copies keys, admin tokens, sealed secrets, the call log, the audit log, findings and alerts, \
                then counts every table on both sides; exits 1 if any count differs. The destination must be \
                empty. Stop the gateway first. A PostgreSQL password comes from PGPASSWORD. The built-in \
                store's secrets stay sealed: run the gateway on the new database with the same master key \
                (PERIMETER_MASTER_KEY or PERIMETER_MASTER_KEY_FILE; by default it is perimeter.master-key \
                beside the SQLite database).

                  perimeter db copy sqlite:./perimeter.db postgres://perimeter@db:5432/perimeter?sslmode=require
                """)

        @Argument(help: "Where the installation is: sqlite:PATH or postgres://USER@HOST:PORT/DB.")
        var source: String

        @Argument(help: "The new, empty database: sqlite:PATH or postgres://USER@HOST:PORT/DB.")
        var destination: String

        @OptionGroup var output: OutputOptions

        func run() async throws {
            guard let from = DatabaseLocation(parsing: source) else {
                throw ValidationError("'\(source)' is not a database: write sqlite:PATH or postgres://USER@HOST:PORT/DB")
            }
            guard let to = DatabaseLocation(parsing: destination) else {
                throw ValidationError("'\(destination)' is not a database: write sqlite:PATH or postgres://USER@HOST:PORT/DB")
            }
            let onTerminal = !output.json && isatty(STDERR_FILENO) == 1
            let copy: DatabaseCopy
            do {
                copy = try await DatabaseCopy.run(
                    from: from, to: to, environment: ProcessInfo.processInfo.environment, logger: Logger(label: "perimeter")
                ) { calls in
                    if onTerminal, calls % 50_000 == 0 || calls < 50_000 {
                        FileHandle.standardError.write(Data("\rcopied \(calls) calls".utf8))
                    }
                }
            } catch let error as CopyError {
                throw ValidationError(error.description)
            }
            if onTerminal { FileHandle.standardError.write(Data("\r".utf8)) }
            if output.json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(copy), as: UTF8.self))
            } else {
                print("\(copy.source) -> \(copy.destination)")
                print(
                    TextTable.render(
                        headers: ["TABLE", "SOURCE", "COPIED", "OK"],
                        rows: copy.tables.map { [$0.name, String($0.source), String($0.destination), $0.matches ? "yes" : "NO"] }))
                print(copy.verified ? "Verified: every table holds as many rows in both." : "Not verified: counts differ (see above).")
            }
            if !copy.verified { throw ExitCode(1) }
        }
    }
}
