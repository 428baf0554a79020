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
    let secrets = secretSetup.resolver

    let admin = try await AdminBootstrap.run(configuration: configuration, store: store, secrets: secrets)
    if let token = admin.createdToken {
        notices.append(
            """
            Created the first admin token (shown only this once):

                \(token.revealed)

            \(admin.savedTo.map { "Saved to \($0) (mode 0600), where the perimeter CLI on this machine finds it." } ?? "Could not save it; set PERIMETER_ADMIN_TOKEN for the CLI.")
            """)
    }

    // A provider whose secret cannot be read stops start-up: better now than on the first call. The
    // exception is a built-in store secret not put yet, which is put through the running gateway.
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

    let keys = try await store.allKeys()
    let cache = KeyCache(keys: keys)
    let writer = CallLogWriter(
        log: store, keys: store, cache: cache, interval: configuration.callLogFlushInterval, logger: logger)
    // Budgets resume where the call log left them.
    let budgets = BudgetBook(ledger: LocalLedger(), environmentBudgets: configuration.environmentBudgets)
    try await budgets.recover(keys: keys, from: store, at: Date())

    var upstreamConfiguration = UpstreamClient.Configuration(
        connectTimeout: configuration.upstreamConnectTimeout, readTimeout: configuration.upstreamTimeout)
    upstreamConfiguration.maximumConnectionsPerOrigin = configuration.upstreamMaxConnections
    // Provider calls go through the gateway's own client; its TLS contexts are made (and checked) now.
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

    // Nothing below throws, so both clients are always handed to the application, which shuts them down.
    // AsyncHTTPClient sends alert webhooks.
    var clientConfiguration = HTTPClient.Configuration()
    clientConfiguration.timeout = .init(
        connect: TimeAmount(configuration.upstreamConnectTimeout), read: TimeAmount(configuration.upstreamTimeout))
    clientConfiguration.connectionPool.retryConnectionEstablishment = false
    clientConfiguration.decompression = .disabled
    clientConfiguration.tracing.tracer = nil
    let client = HTTPClient(eventLoopGroupProvider: .shared(MultiThreadedEventLoopGroup.singleton), configuration: clientConfiguration)

    var routes = configuration.providers.map { provider in
        ProviderRoute(
            name: provider.name, kind: provider.kind, baseURL: provider.baseURL, credential: provider.apiKey,
            models: provider.models,
            upstream: upstreamOverride
                ?? HTTPUpstream(client: upstreamClient, timeout: configuration.upstreamTimeout, caFile: provider.caFile))
    }
    if configuration.demo {
        for kind in ProviderKind.allCases {
            routes.append(
                ProviderRoute(
                    name: "demo-\(kind.rawValue)", kind: kind, baseURL: "demo:", credential: nil, models: [ModelPattern("*")],
                    upstream: DemoUpstream(kind: kind)))
        }
    }
    if routes.isEmpty {
        notices.append(
            """
            No provider is configured, so every call will answer 404 model_not_found.
            Add one to perimeter.yaml (see the README), for example:
                providers:
                  - { name: openai, kind: openai, base_url: https://api.openai.com/v1, api_key: "store:openai" }
            or restart with --demo to try Perimeter with a simulated provider.
            """)
    }

    let rateLimiter = RateLimiter()
    let metrics = GatewayMetrics(perKeyLabels: configuration.metricsPerKeyLabels)
    let dispatcher = AlertDispatcher(
        store: store, channels: configuration.alerts.channels, resolver: secrets, client: client, logger: logger, metrics: metrics)
    let alertCenter = AlertCenter(
        settings: configuration.alerts, store: store, cache: cache, budgets: budgets,
        dispatcher: dispatcher, logger: logger, metrics: metrics)
    let proxy = ProxyHandler(
        authenticator: Authenticator(cache: cache), directory: ProviderDirectory(providers: routes), secrets: secrets,
        prices: .builtIn(overriddenBy: configuration.priceOverrides), callLog: writer, budgets: budgets, rateLimiter: rateLimiter,
        unknownKeys: UnknownKeyGuard(
            count: configuration.alerts.invalidKeyBurst.count, window: configuration.alerts.invalidKeyBurst.window),
        clientAddress: ClientAddress(trustedProxies: configuration.trustedProxies), maximumBodySize: configuration.maximumBodySize,
        alerts: alertCenter, metrics: metrics)

    let router = Router(context: GatewayContext.self)
    router.add(middleware: GatewayMiddleware())
    proxy.register(on: router)
    let audit = AdminAudit(log: store, clientAddress: ClientAddress(trustedProxies: configuration.trustedProxies))
    let references = configuration.secretReferences
    let targets = DeliveryTargets(builtIn: secretSetup.builtIn, remote: secretSetup.writers)
    let rotator = KeyRotator(keys: store, cache: cache, targets: targets, policy: configuration.rotation)
    let authority = AdminAuthority(tokens: admin.tokens)
    AdminRoutes(
        keys: store, cache: cache, calls: store, authority: authority, budgets: budgets, writer: writer,
        secrets: SecretRoutes(builtIn: secretSetup.builtIn, resolver: secrets, references: references, audit: audit),
        governance: GovernanceRoutes(
            keys: store, calls: store, adminTokens: store, authority: authority, auditLog: store, audit: audit, rotator: rotator,
            cache: cache, budgets: budgets, resolver: secrets, references: references, policy: configuration.rotation,
            findings: store),
        audit: audit, targets: targets, alerts: AlertRoutes(store: store, settings: configuration.alerts)
    ).register(on: router)
    MetricsRoute(
        metrics: metrics, cache: cache, budgets: budgets,
        perKeyLabels: configuration.metricsPerKeyLabels
    ).register(on: router)
    HealthRoutes(store: store, providers: routes, secrets: secrets).register(on: router)

    let application = Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "perimeter"),
        // A ServiceGroup stops its services in reverse order: the refresher stops before the secrets clients.
        services: [HTTPClientService(client: client), UpstreamClientService(client: upstreamClient), writer]
            + secretSetup.clients.map { HTTPClientService(client: $0) }
            + [
                SecretRefresher(resolver: secrets), RotationScheduler(cache: cache, rotator: rotator, audit: audit, logger: logger),
                // Stopped in reverse order: the alert center drains into the outbox before the dispatcher stops.
                dispatcher, alertCenter,
            ],
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: logger)
    return Gateway(application: application, notices: notices, metrics: metrics)
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
