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
    let store = try openStore(configuration.database, file: configuration.sourceFile)
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
    let budgets = BudgetBook(ledger: LocalLedger(), environmentBudgets: configuration.environmentBudgets)
    try await budgets.recover(keys: keys, from: store, at: Date())
    let upstreamClient = try makeUpstreamClient(configuration)

    // Nothing below throws, so every client is handed to the application, which shuts it down.
    let parts = GatewayParts(
        configuration: configuration, logger: logger, store: store, secretSetup: secretSetup, keys: keys, budgets: budgets,
        adminTokens: admin.tokens, upstreamClient: upstreamClient, upstreamOverride: upstreamOverride)
    if parts.providers.isEmpty { notices.append(GatewayParts.noProviderNotice) }

    let router = parts.makeRouter()
    let routes = router.routes.map { "\($0.method) \($0.path)" }
    let application = Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "perimeter"),
        services: parts.services,
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: logger)
    return Gateway(application: application, notices: notices, metrics: parts.metrics, routes: routes)
}

/// A provider whose secret cannot be read stops start-up: better now than on the first call. The
/// exception is a built-in store secret not put yet, which is put through the running gateway.
private func checkProviderSecrets(_ configuration: GatewayConfiguration, secrets: SecretResolver) async throws -> [String] {
    var notices: [String] = []
    for (index, provider) in configuration.providers.enumerated() {
        guard let reference = provider.apiKey else { continue }
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
            file: configuration.sourceFile, field: "providers[\(index)].api_key", problem: error,
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

func openStore(_ location: DatabaseLocation, file: String?) throws -> any Store {
    switch location {
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
    }
}
