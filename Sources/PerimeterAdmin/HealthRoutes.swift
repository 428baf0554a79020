import Foundation
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
    /// Budgets leased from a database shared with other instances, if so.
    let ledger: LeasedLedger?
    /// The call log's writer, whose backlog grows while the database is away.
    let writer: CallLogWriter?

    package init(
        store: any KeyStore, providers: [ProviderRoute], secrets: SecretResolver, ledger: LeasedLedger? = nil, writer: CallLogWriter? = nil
    ) {
        self.writer = writer
        self.store = store
        self.providers = providers
        self.secrets = secrets
        self.ledger = ledger
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
            if let writer {
                checks["call_log"] =
                    writer.isBacklogFull
                    ? "backlog full (\(writer.backlogCount) records): calls are refused with call_log_unavailable" : "ok"
            }
            if let ledger {
                let age = ledger.lastMaintained.map { Date().timeIntervalSince($0) }
                if let age, age < ledger.leaseDuration / 2 {
                    checks["budget_leases"] = "ok"
                } else {
                    let since = age.map { "for \(Int($0)) s" } ?? "yet"
                    checks["budget_leases"] =
                        "not renewed \(since): keys with a budget are refused with ledger_unavailable once their leases run out"
                }
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
