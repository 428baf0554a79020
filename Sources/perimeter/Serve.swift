import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Metrics
import NIOCore
import NIOPosix
import PerimeterConfiguration
import PerimeterGateway
import Prometheus

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the gateway.",
        discussion: """
            Reads --config, else PERIMETER_CONFIG, else ./perimeter.yaml when present. PERIMETER_LISTEN, \
            PERIMETER_DATABASE and PERIMETER_ADMIN_TOKEN override the file; flags override both.
            """)

    @Option(help: "YAML configuration file.")
    var config: String?

    @Option(help: "Address to listen on, HOST:PORT (default 127.0.0.1:8080).")
    var listen: String?

    @Option(help: "sqlite:PATH, postgres://USER@HOST:PORT/DB or memory (default sqlite:./perimeter.db).")
    var database: String?

    @Flag(help: "Add a simulated provider that answers both OpenAI and Anthropic calls, streams included.")
    var demo = false

    @Flag(help: "Resolve every secret reference of the configuration, report which store answered, and exit.")
    var check = false

    @Flag(help: "With --check: print JSON instead of a table.")
    var json = false

    /// The configuration as `serve` and `db` read it: `--config`, else `PERIMETER_CONFIG`, else
    /// `./perimeter.yaml` when present; the environment over the file; `--database` over both.
    static func loadConfiguration(file: String?, database: String?, environment: [String: String]) throws -> GatewayConfiguration {
        let file =
            file ?? environment["PERIMETER_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (FileManager.default.fileExists(atPath: "perimeter.yaml") ? "perimeter.yaml" : nil)
        var configuration = try ConfigurationLoader.load(file: file, environment: environment)
        if let database { try ConfigurationLoader.setDatabase(database, field: "--database", on: &configuration) }
        return configuration
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        // Run Swift concurrency's tasks on NIO's event loops: a call then stays on the threads that do its
        // I/O instead of hopping to the concurrency pool and back at every await (fewer thread wake-ups
        // and context switches per call; see bench/README.md). Before any other concurrency work.
        if let threads = environment["PERIMETER_THREADS"].flatMap(Int.init), threads > 0 {
            NIOSingletons.groupLoopCountSuggestion = threads
        }
        if environment["PERIMETER_NIO_EXECUTOR"] != "off" {
            _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        }
        Self.raiseOpenFileLimit()
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = environment["PERIMETER_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
            return handler
        }
        var configuration = try Self.loadConfiguration(file: config, database: database, environment: environment)
        if let listen { try ConfigurationLoader.setListen(listen, field: "--listen", on: &configuration) }
        configuration.demo = demo

        if check {
            let report = try await SecretCheckReport.run(configuration: configuration, logger: Logger(label: "perimeter"))
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                for notice in report.notices { print(notice + "\n") }
                print(
                    Secrets.checkTable(
                        report.secrets.map { row in
                            [
                                "reference": row.reference, "store": row.store, "status": row.status, "version": row.version as Any,
                                "used_by": row.usedBy, "error": row.error as Any,
                            ]
                        }))
                print(
                    report.ok
                        ? "\nEvery secret resolved."
                        : "\nSome secrets did not resolve; `perimeter serve` would not start (store: secrets not put yet excepted).")
            }
            throw ExitCode(report.ok ? 0 : 1)
        }
        let host = configuration.host
        let providers = configuration.providers.map(\.name) + (demo ? ["demo (simulated)"] : [])
        let gateway = try await buildApplication(configuration: configuration, logger: Logger(label: "perimeter")) { port in
            let base = "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
            print(
                """
                Perimeter is listening on \(base)
                  OpenAI SDK base URL:    \(base)/v1
                  Anthropic SDK base URL: \(base)
                  Gemini SDK base URL:    \(base)
                  Providers: \(providers.isEmpty ? "none" : providers.joined(separator: ", "))
                """)
            fflush(nil)
        }
        if let metrics = gateway.metrics {
            // Libraries that report through swift-metrics land in the same registry as the gateway's own.
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metrics.registry))
        }
        for notice in gateway.notices {
            print(notice + "\n")
        }
        fflush(nil)
        try await gateway.run()
        // Every service has stopped and the call log is written: end the process here. Its teardown
        // (static destructors, the runtime's worker threads) once kept a stopped gateway alive until
        // it was killed, with the database away.
        fflush(nil)
        _exit(0)
    }

    /// Each call in flight holds two sockets (client and upstream); lift the soft open-file limit to
    /// the hard one, as servers do, so a few thousand streams do not run out of descriptors.
    static func raiseOpenFileLimit() {
        #if os(Linux)
            var limit = rlimit()
            let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
            guard getrlimit(resource, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(resource, &limit)
        #endif
    }
}
