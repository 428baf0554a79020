import Foundation
import Hummingbird
import PerimeterCore
import PerimeterProxy
import PerimeterStorage

/// `GET /metrics`: Prometheus text format. Budget gauges are refreshed at each scrape.
package struct MetricsRoute: Sendable {
    let metrics: GatewayMetrics
    let cache: KeyCache
    let ledger: LocalLedger
    let environmentBudgets: [String: Budget]
    let perKeyLabels: Bool

    package init(metrics: GatewayMetrics, cache: KeyCache, ledger: LocalLedger, environmentBudgets: [String: Budget], perKeyLabels: Bool) {
        self.metrics = metrics
        self.cache = cache
        self.ledger = ledger
        self.environmentBudgets = environmentBudgets
        self.perKeyLabels = perKeyLabels
    }

    package func register(on router: Router<GatewayContext>) {
        router.get("metrics") { _, _ in
            let now = Date()
            for (name, budget) in environmentBudgets {
                metrics.setBudget(scope: "env:\(name)", status: await ledger.status(of: BudgetClaim(.environment(name), budget), at: now))
            }
            if perKeyLabels {
                for key in cache.allKeys() where !key.isRevoked {
                    guard let budget = key.policy.budget else { continue }
                    metrics.setBudget(scope: "key:\(key.id)", status: await ledger.status(of: BudgetClaim(.key(key.id), budget), at: now))
                }
            }
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: metrics.registry.emitToBuffer())))
        }
    }
}
