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
import PerimeterProviderAdmin
import PerimeterProviders
import PerimeterProxy
import PerimeterRotation
import PerimeterSecrets
import PerimeterStorage
import PerimeterUpstream
import ServiceLifecycle

/// Everything the running gateway is made of, built once from the configuration: the proxy and its
/// providers, alerting, rotation and the admin API's parts. The router and the services are made from it.
struct GatewayParts {
    let configuration: GatewayConfiguration
    let logger: Logger
    let store: any Store
    let secretSetup: SecretSetup
    let cache: KeyCache
    let writer: CallLogWriter
    /// Per-key request and token buckets; shares of each limit when instances share a database.
    let rateLimiter = RateLimiter()
    let budgets: BudgetBook
    let metrics: GatewayMetrics
    let providers: [ProviderRoute]
    let upstreamClient: UpstreamClient
    /// AsyncHTTPClient sends alert webhooks.
    let webhookClient: HTTPClient
    let dispatcher: AlertDispatcher
    let alertCenter: AlertCenter
    let audit: AdminAudit
    let rotator: KeyRotator
    let targets: DeliveryTargets
    let authority: AdminAuthority
    /// The web console's sign-in sessions; `nil` with `console.enabled: false`.
    let sessions: ConsoleSessions?
    /// The providers' own key lists and usage, for providers with an `admin_key`.
    let providerKeys: ProviderKeySync

    init(
        configuration: GatewayConfiguration, logger: Logger, store: any Store, secretSetup: SecretSetup, keys: [VirtualKey],
        budgets: BudgetBook, adminTokens: [AdminToken], upstreamClient: UpstreamClient, upstreamOverride: (any Upstream)?
    ) {
        self.configuration = configuration
        self.logger = logger
        self.store = store
        self.secretSetup = secretSetup
        self.budgets = budgets
        self.upstreamClient = upstreamClient
        cache = KeyCache(keys: keys)
        writer = CallLogWriter(
            log: store, keys: store, cache: cache, interval: configuration.callLogFlushInterval,
            maximumBacklog: configuration.callLogBacklog, logger: logger)
        metrics = GatewayMetrics(perKeyLabels: configuration.metricsPerKeyLabels)
        webhookClient = Self.makeWebhookClient(configuration)
        providers = Self.providerRoutes(
            configuration, upstreamClient: upstreamClient, upstreamOverride: upstreamOverride,
            tokens: AsyncHTTPSecretTransport(client: webhookClient), secrets: secretSetup.resolver)
        dispatcher = AlertDispatcher(
            store: store, channels: configuration.alerts.channels, resolver: secretSetup.resolver, client: webhookClient,
            logger: logger, metrics: metrics)
        alertCenter = AlertCenter(
            settings: configuration.alerts, store: store, cache: cache, budgets: budgets, dispatcher: dispatcher, logger: logger,
            metrics: metrics, sharedBaselines: store is any KeyChangeFeed)
        audit = AdminAudit(log: store, clientAddress: ClientAddress(trustedProxies: configuration.trustedProxies))
        targets = DeliveryTargets(
            builtIn: secretSetup.builtIn, remote: secretSetup.writers, fileDirectories: configuration.rotation.deliveryDirectories)
        rotator = KeyRotator(
            keys: store, cache: cache, targets: targets, policy: configuration.rotation, replays: store,
            masterKey: secretSetup.sharedMasterKey)
        authority = AdminAuthority(tokens: adminTokens)
        sessions = configuration.console.enabled ? ConsoleSessions(settings: configuration.console, authority: authority) : nil
        let center = alertCenter
        let resolver = secretSetup.resolver
        // Every credential the gateway calls out with counts as held, whichever provider uses it.
        var seen = Set<SecretReference>()
        let allHeld = configuration.providers.compactMap(\.apiKey).filter { seen.insert($0).inserted }.map { reference in
            ProviderAdminTarget.Held(reference: reference.description) { try await resolver.secret(for: reference) }
        }
        let heldKeyIDs = Dictionary(
            configuration.providers.compactMap { provider in provider.keyID.flatMap { id in provider.apiKey.map { (id, $0.description) } }
            },
            uniquingKeysWith: { a, _ in a })
        providerKeys = ProviderKeySync(
            targets: Self.providerAdminTargets(
                configuration, resolver: resolver, transport: AsyncHTTPSecretTransport(client: webhookClient)),
            allHeld: allHeld, heldKeyIDs: heldKeyIDs, store: store, calls: store, maxAge: configuration.rotation.credentialMaxAge,
            logger: logger
        ) { alerts in await center.raise(found: alerts) }
    }

    /// OpenAI and Anthropic providers with an `admin_key`, each with the credentials it is matched against.
    static func providerAdminTargets(
        _ configuration: GatewayConfiguration, resolver: SecretResolver, transport: any SecretHTTPTransport
    ) -> [ProviderAdminTarget] {
        configuration.providers.compactMap { provider in
            guard let adminReference = provider.adminKey else { return nil }
            let adminKey: @Sendable () async throws -> Secret = { try await resolver.secret(for: adminReference) }
            let api: any ProviderAdminAPI =
                provider.kind == .anthropic
                ? AnthropicAdminAPI(provider: provider.name, baseURL: provider.baseURL, adminKey: adminKey, transport: transport)
                : OpenAIAdminAPI(provider: provider.name, baseURL: provider.baseURL, adminKey: adminKey, transport: transport)
            let held = provider.apiKey.map { reference in
                ProviderAdminTarget.Held(reference: reference.description) { try await resolver.secret(for: reference) }
            }
            let sharing = configuration.providers.filter { $0.apiKey != nil && $0.apiKey == provider.apiKey }.map(\.name)
            return ProviderAdminTarget(
                provider: provider.name, api: api, held: held, heldKeyID: provider.keyID,
                admin: .init(reference: adminReference.description, secret: adminKey),
                loggedProviders: sharing.isEmpty ? [provider.name] : sharing)
        }
    }

    /// The long-lived parts, in start order. A ServiceGroup stops them in reverse: the alert center drains
    /// into the outbox before the dispatcher stops, the refresher stops before the secrets clients, and
    /// the call-log writer flushes before the clients close.
    var services: [any Service] {
        [HTTPClientService(client: webhookClient), UpstreamClientService(client: upstreamClient), writer]
            + secretSetup.clients.map { HTTPClientService(client: $0) }
            + [
                SecretRefresher(resolver: secretSetup.resolver),
                RotationScheduler(
                    cache: cache, rotator: rotator, audit: audit, keys: store, lock: store as? any ClusterLock, logger: logger),
                dispatcher, alertCenter,
            ]
            + (configuration.providers.contains { $0.adminKey != nil }
                ? [
                    ProviderKeySyncService(
                        sync: providerKeys, interval: configuration.providerSyncInterval, lock: store as? any ClusterLock)
                ]
                : [])
    }

    private static func providerRoutes(
        _ configuration: GatewayConfiguration, upstreamClient: UpstreamClient, upstreamOverride: (any Upstream)?,
        tokens: any SecretHTTPTransport, secrets: SecretResolver
    ) -> [ProviderRoute] {
        var routes = configuration.providers.map { provider in
            ProviderRoute(
                name: provider.name, kind: provider.kind, baseURL: provider.baseURL, credential: provider.apiKey,
                models: provider.models,
                upstream: upstreamOverride
                    ?? HTTPUpstream(client: upstreamClient, timeout: configuration.upstreamTimeout, caFile: provider.caFile),
                streamUsage: provider.streamUsage,
                azure: provider.azure,
                bearer: provider.entra.map {
                    EntraClientCredentials(settings: $0, resolver: secrets, transport: tokens)
                },
                aws: provider.aws, anthropicModels: provider.bedrockAnthropicModels)
        }
        for index in routes.indices {
            if let aws = routes[index].aws, aws.usesDefaultChain {
                routes[index].awsChain = AWSCredentialChain(
                    environment: ProcessInfo.processInfo.environment, region: aws.region, transport: tokens)
            }
        }
        if configuration.demo {
            for kind in ProviderKind.allCases {
                routes.append(
                    ProviderRoute(
                        name: "demo-\(kind.rawValue)", kind: kind, baseURL: "demo:", credential: nil, models: [ModelPattern("*")],
                        upstream: DemoUpstream(kind: kind)))
            }
        }
        return routes
    }

    static let noProviderNotice = """
        No provider is configured, so every call will answer 404 model_not_found.
        Add one to perimeter.yaml (see the README), for example:
            providers:
              - { name: openai, kind: openai, base_url: https://api.openai.com/v1, api_key: "store:openai" }
        or restart with --demo to try Perimeter with a simulated provider.
        """

    private static func makeWebhookClient(_ configuration: GatewayConfiguration) -> HTTPClient {
        var clientConfiguration = HTTPClient.Configuration()
        clientConfiguration.timeout = .init(
            connect: TimeAmount(configuration.upstreamConnectTimeout), read: TimeAmount(configuration.upstreamTimeout))
        clientConfiguration.connectionPool.retryConnectionEstablishment = false
        clientConfiguration.decompression = .disabled
        // Alert webhooks, Entra tokens and provider admin APIs: a redirect would carry a signed body or
        // an admin key (x-api-key, which AsyncHTTPClient keeps across origins) elsewhere.
        clientConfiguration.redirectConfiguration = .disallow
        clientConfiguration.tracing.tracer = nil
        return HTTPClient(eventLoopGroupProvider: .shared(MultiThreadedEventLoopGroup.singleton), configuration: clientConfiguration)
    }
}
