import ArgumentParser
import Foundation
import Logging
import PerimeterGateway

/// `perimeter db`: the gateway's own database.
struct Database: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db", abstract: "Work on the gateway's database.", subcommands: [Migrate.self])

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
}
