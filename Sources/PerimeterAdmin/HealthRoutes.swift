import Hummingbird
import PerimeterCore
import PerimeterProxy
import PerimeterSecrets
import PerimeterStorage

/// `/healthz` (the process answers) and `/readyz` (the store answers and every provider's secret
/// is in the resolver's cache and servable), for load balancers and orchestrators.
package struct HealthRoutes: Sendable {
    let store: any KeyStore
    let providers: [ProviderRoute]
    let secrets: SecretResolver

    package init(store: any KeyStore, providers: [ProviderRoute], secrets: SecretResolver) {
        self.store = store
        self.providers = providers
        self.secrets = secrets
    }

    struct Readiness: Encodable {
        var status: String
        var checks: [String: String]
    }

    package func register(on router: Router<GatewayContext>) {
        router.get("healthz") { _, _ in
            AdminRoutes.json(status: .ok, bytes: Array(#"{"status":"ok"}"#.utf8))
        }
        router.get("readyz") { _, _ in
            var checks: [String: String] = [:]
            do {
                _ = try await store.key(id: "readiness-probe")
                checks["database"] = "ok"
            } catch {
                checks["database"] = "error: \(error)"
            }
            for provider in providers {
                guard let reference = provider.credential else { continue }
                // Unauthenticated: the reference and a category only; the store's own words go to the
                // log and to `perimeter secrets reload`.
                let status = secrets.status(of: reference)
                checks["provider:\(provider.name)"] =
                    status.ok ? "ok" : "secret unavailable: \(reference) (\(status.notFound ? "not found" : "store failing"))"
            }
            let ready = checks.values.allSatisfy { $0 == "ok" }
            return try AdminRoutes.json(
                Readiness(status: ready ? "ready" : "not_ready", checks: checks), status: ready ? .ok : .serviceUnavailable)
        }
    }
}
