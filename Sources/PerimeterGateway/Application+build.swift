import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import PerimeterAdmin
import PerimeterAlerts
import PerimeterConfiguration
import PerimeterCore
import PerimeterPostgres
import PerimeterProviders
import PerimeterProxy
import PerimeterRotation
import PerimeterSQLite
import PerimeterSecrets
import PerimeterStorage
import PerimeterUpstream
import ServiceLifecycle

/// A built gateway: the application to run, and what an operator should be told as it starts.
package struct Gateway: Sendable {
    package let application: Application<RouterResponder<GatewayContext>>
    /// One-time messages for the terminal (a generated admin token, a missing provider).
    package let notices: [String]
    /// The Prometheus registry `/metrics` serves; `serve` points swift-metrics at it too.
    package var metrics: GatewayMetrics? = nil
    /// Every route the router serves, as `METHOD /path` with `{name}` for a parameter (Hummingbird's form).
    package var routes: [String] = []
    /// `shutdown_timeout`: after SIGTERM, how long the parts may take to stop before they are cancelled.
    package var shutdownTimeout: Duration = .seconds(30)

    /// Serves until SIGTERM or SIGINT, then stops every part in turn (the HTTP server first, the store
    /// last), cancelling what is left after `shutdownTimeout`.
    package func run() async throws {
        var configuration = ServiceGroupConfiguration(
            services: [WatchedService(service: application, logger: application.logger, announcesShutdown: true)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: application.logger)
        configuration.maximumGracefulShutdownDuration = shutdownTimeout
        try await ServiceGroup(configuration: configuration).run()
    }
}

/// The composition root: opens the store, loads keys and admin identities, checks provider secrets,
/// and wires the proxy, the admin API and the services into one Hummingbird application.
package func buildApplication(
    configuration: GatewayConfiguration, logger: Logger = Logger(label: "perimeter"),
    onServerRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
) async throws -> Gateway {
    try await buildApplication(
        configuration: configuration, logger: logger, environment: ProcessInfo.processInfo.environment,
        upstreamOverride: nil, onServerRunning: onServerRunning)
}

package func buildApplication(
    configuration: GatewayConfiguration, logger: Logger, environment: [String: String], upstreamOverride: (any Upstream)?,
    onServerRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
) async throws -> Gateway {
    var notices: [String] = []
    let store = try await openStore(configuration, environment: environment, logger: logger)
    let secretSetup = try await SecretSetup.make(
        configuration: configuration, storage: store, environment: environment, logger: logger)
    notices += secretSetup.notices
    do {
        return try await assemble(
            configuration: configuration, logger: logger, store: store, secretSetup: secretSetup, notices: notices,
            upstreamOverride: upstreamOverride, onServerRunning: onServerRunning)
    } catch {
        // The secrets client runs until the application's services stop it; if there is no application, stop it here.
        await secretSetup.shutdownClients()
        await (store as? PostgresStore)?.close()
        throw error
    }
}

private func assemble(
    configuration: GatewayConfiguration, logger: Logger, store: any Store, secretSetup: SecretSetup, notices: [String],
    upstreamOverride: (any Upstream)?, onServerRunning: @escaping @Sendable (_ port: Int) async -> Void
) async throws -> Gateway {
    var notices = notices
    let admin = try await AdminBootstrap.run(configuration: configuration, store: store, secrets: secretSetup.resolver)
    notices += admin.notices
    notices += try await checkProviderSecrets(configuration, secrets: secretSetup.resolver)

    let keys = try await store.allKeys()
    // Calls a crash left under way are charged the worst case they reserved, never freed.
    let interrupted = try await store.closeInFlight()
    if interrupted > 0 {
        logger.warning(
            "calls were under way when the gateway last stopped; each is charged the worst case it reserved (outcome interrupted)",
            metadata: ["perimeter.calls": "\(interrupted)"])
    }
    // Budgets resume where the call log left them.
    // Instances sharing PostgreSQL lease slices of each budget; a single instance keeps its own.
    let leased = (store as? PostgresStore).map {
        LeasedLedger(pool: $0, instance: $0.instance, leaseDuration: configuration.budgetLease)
    }
    let budgets = BudgetBook(ledger: leased ?? LocalLedger(), environmentBudgets: configuration.environmentBudgets)
    try await budgets.recover(keys: keys, from: store, at: Date())
    let upstreamClient = try makeUpstreamClient(configuration)

    // Nothing below throws, so every client is handed to the application, which shuts it down.
    let parts = GatewayParts(
        configuration: configuration, logger: logger, store: store, secretSetup: secretSetup, keys: keys, budgets: budgets,
        adminTokens: admin.tokens, upstreamClient: upstreamClient, upstreamOverride: upstreamOverride)
    if parts.providers.isEmpty { notices.append(GatewayParts.noProviderNotice) }

    let router = parts.makeRouter()
    let routes = router.routes.map { "\($0.method) \($0.path)" }
    let leaseKeeper = leased.flatMap { ledger in
        (store as? PostgresStore).map { LeaseKeeper(ledger: ledger, rateLimiter: parts.rateLimiter, board: $0, logger: logger) }
    }
    // The first share of every rate limit before the first call: a new instance among others holds
    // its share, not the whole limit. (The database answered the start-up queries a moment ago.)
    try? await leaseKeeper?.shareLimits(at: Date())
    let application = Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "perimeter"),
        // The store closes last: services stop in reverse order, so the call-log writer's final flush
        // still has it.
        services: ([StoreService(store: store, writers: [parts.writer.finished] + (leaseKeeper.map { [$0.finished] } ?? []))]
            + parts.services
            + ((store as? any KeyChangeFeed).map { feed -> [any Service] in
                [
                    KeySync(
                        feed: feed, store: store, cache: parts.cache, budgets: parts.budgets, writer: parts.writer,
                        secrets: secretSetup.resolver, logger: logger)
                ]
            } ?? [])
            // Stops first of these (right after the HTTP server), so the last calls' spend is in its final report.
            + (leaseKeeper.map { [$0] } ?? []))
            .map { WatchedService(service: $0, logger: logger) },
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: logger)
    return Gateway(
        application: application, notices: notices, metrics: parts.metrics, routes: routes,
        shutdownTimeout: configuration.shutdownTimeout)
}

/// A provider whose secret cannot be read stops start-up: better now than on the first call. The
/// exception is a built-in store secret not put yet, which is put through the running gateway.
private func checkProviderSecrets(_ configuration: GatewayConfiguration, secrets: SecretResolver) async throws -> [String] {
    var notices: [String] = []
    let references = configuration.providers.enumerated().flatMap { index, provider in
        [
            provider.apiKey.map { ($0, "providers[\(index)].api_key", provider) },
            provider.entra.map { ($0.clientSecret, "providers[\(index)].entra.client_secret", provider) },
        ].compactMap { $0 } + (provider.aws?.references ?? []).map { ($0.reference, "providers[\(index)].\($0.field)", provider) }
    }
    for (reference, field, provider) in references {
        let check = await secrets.refresh(reference)
        guard let error = check.error else { continue }
        if reference.scheme == "store", check.notFound {
            notices.append(
                """
                Provider \(provider.name) uses \(reference), which is not stored yet; its calls answer 502 secret_unavailable until then:
                    perimeter secrets put \(reference.path)      (reads the value from standard input)
                """)
            continue
        }
        throw ConfigurationError(
            file: configuration.sourceFile, field: field, problem: error,
            fix: "make the secret available to the gateway, or correct the reference")
    }
    return notices
}

/// The gateway's own client for provider calls; its TLS contexts are made (and checked) now, so a bad
/// CA file stops start-up and names the field.
private func makeUpstreamClient(_ configuration: GatewayConfiguration) throws -> UpstreamClient {
    var upstreamConfiguration = UpstreamClient.Configuration(
        connectTimeout: configuration.upstreamConnectTimeout, readTimeout: configuration.upstreamTimeout)
    upstreamConfiguration.maximumConnectionsPerOrigin = configuration.upstreamMaxConnections
    let upstreamClient = UpstreamClient(configuration: upstreamConfiguration)
    for (index, provider) in configuration.providers.enumerated() where provider.baseURL.hasPrefix("https://") {
        do {
            try upstreamClient.prepareTLS(caFiles: [provider.caFile])
        } catch {
            throw ConfigurationError(
                file: configuration.sourceFile,
                field: provider.caFile == nil ? "providers[\(index)].base_url" : "providers[\(index)].ca_file",
                problem: "\(error)", fix: "give the PEM file of the CA that signed the provider's certificate")
        }
    }
    return upstreamClient
}

typealias Store = KeyStore & CallLog & AdminTokenStore & SealedSecretStore & AuditLog & FindingStore & AlertStore
    & RotationReplayStore & ProviderKeyStore

func openStore(_ configuration: GatewayConfiguration, environment: [String: String], logger: Logger) async throws -> any Store {
    let file = configuration.sourceFile
    switch configuration.database {
    case .memory:
        return MemoryStore()
    case .sqlite(let path):
        do {
            return try SQLiteStore(path: path)
        } catch {
            throw ConfigurationError(
                file: file, field: "database", problem: "cannot open SQLite database at \(path) (\(error))",
                fix: "check that the directory exists and is writable, or set PERIMETER_DATABASE")
        }
    case .postgres(let location):
        let password = try await databasePassword(configuration, environment: environment)
        do {
            let single = try location.connectionConfiguration(password: password)
            try await PostgresStore.checkReachable(single, logger: logger)
            let client = try location.clientConfiguration(password: password)
            return try await PostgresStore(
                configuration: client, listening: single, logger: logger, timeout: configuration.databaseStartTimeout,
                instanceTimeout: configuration.budgetLease)
        } catch {
            throw ConfigurationError(
                file: file, field: "database", problem: "cannot open PostgreSQL at \(location) (\(String(reflecting: error)))",
                fix: "check that the server is up and the address, user and database_password are right")
        }
    }
}

/// The PostgreSQL password: `database_password` (env:, file:, vault:, aws-sm: or azure-kv:), else `PGPASSWORD`, else none.
func databasePassword(_ configuration: GatewayConfiguration, environment: [String: String]) async throws -> String? {
    guard let reference = configuration.databasePassword else { return environment["PGPASSWORD"] }
    do {
        switch reference.scheme {
        case "env": return try await EnvironmentSecretStore(environment: environment).fetch(reference).secret.revealed
        case "file": return try await FileSecretStore().fetch(reference).secret.revealed
        default:
            return try await SecretSetup.readBeforeDatabase(
                reference, configuration: configuration, environment: environment, logger: Logger(label: "perimeter")
            ).revealed
        }
    } catch let error as ConfigurationError {
        throw error
    } catch {
        throw ConfigurationError(
            file: configuration.sourceFile, field: "database_password", problem: "cannot read \(reference) (\(error))",
            fix: reference.scheme == "env" || reference.scheme == "file"
                ? "set the variable or create the file" : "check that the secret exists and the gateway may read it")
    }
}

/// Closes a PostgreSQL store's connection pool once every other service has stopped.
struct StoreService: Service {
    let store: any Store
    /// What must finish writing before the store closes: the call-log writer and the lease keeper. In
    /// order they stop first; cancelled (a shutdown past `shutdown_timeout`), all stop at once, so wait.
    var writers: [Finished] = []

    func run() async throws {
        try? await gracefulShutdown()
        // Bounded waits that hold even when shutdown was escalated to cancellation (see `finishes(within:)`).
        for writer in writers { _ = await writer.wait(within: .seconds(10)) }
        await (store as? PostgresStore)?.close()
    }
}
