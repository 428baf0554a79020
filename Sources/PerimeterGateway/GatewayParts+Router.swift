import Hummingbird
import PerimeterAdmin
import PerimeterAlerts
import PerimeterConsole
import PerimeterCore
import PerimeterProxy
import PerimeterStorage

extension GatewayParts {
    /// One router for the proxy routes, the admin API, `/metrics` and the health checks; the outermost
    /// middleware renders every error in the route family's shape.
    func makeRouter() -> Router<GatewayContext> {
        let router = Router(context: GatewayContext.self)
        let index = RouteIndex()
        router.add(middleware: GatewayMiddleware(routes: index))
        makeProxy().register(on: router)
        makeAdminRoutes().register(on: router)
        if sessions != nil { ConsoleRoutes().register(on: router) }
        MetricsRoute(
            metrics: metrics, cache: cache, budgets: budgets, perKeyLabels: configuration.metricsPerKeyLabels, writer: writer
        )
        .register(on: router)
        HealthRoutes(
            store: store, providers: providers, secrets: secretSetup.resolver, ledger: budgets.ledger as? LeasedLedger, writer: writer
        ).register(
            on: router)
        index.load(router.routes.map { (method: $0.method.rawValue, path: $0.path.description) })
        return router
    }

    private func makeProxy() -> ProxyHandler {
        ProxyHandler(
            authenticator: Authenticator(cache: cache), directory: ProviderDirectory(providers: providers),
            secrets: secretSetup.resolver, prices: .builtIn(overriddenBy: configuration.priceOverrides), callLog: writer,
            budgets: budgets, rateLimiter: rateLimiter,
            unknownKeys: UnknownKeyGuard(
                count: configuration.alerts.invalidKeyBurst.count, window: configuration.alerts.invalidKeyBurst.window),
            clientAddress: ClientAddress(trustedProxies: configuration.trustedProxies),
            maximumBodySize: configuration.maximumBodySize, drainTimeout: configuration.streamDrainTimeout, alerts: alertCenter,
            metrics: metrics)
    }

    private func makeAdminRoutes() -> AdminRoutes {
        let references = configuration.secretReferences
        let secrets = secretSetup.resolver
        var governance = GovernanceRoutes(
            keys: store, calls: store, adminTokens: store, authority: authority, auditLog: store, audit: audit,
            rotator: rotator, cache: cache, budgets: budgets, resolver: secrets, references: references,
            policy: configuration.rotation, findings: store)
        governance.providerKeys = ProviderKeyRoutes(sync: providerKeys, store: store, audit: audit)
        var routes = AdminRoutes(
            keys: store, cache: cache, calls: store, authority: authority, budgets: budgets, writer: writer,
            secrets: SecretRoutes(builtIn: secretSetup.builtIn, resolver: secrets, references: references, audit: audit),
            governance: governance,
            audit: audit, targets: targets, alerts: AlertRoutes(store: store, settings: configuration.alerts))
        routes.sessions = sessions
        return routes
    }
}
