import Foundation
import Hummingbird
import PerimeterCore
import PerimeterProxy
import PerimeterStorage

/// `GET /metrics`: Prometheus text format. Budget gauges are refreshed at each scrape.
package struct MetricsRoute: Sendable {
    let metrics: GatewayMetrics
    let cache: KeyCache
    let budgets: BudgetBook
    let perKeyLabels: Bool
    let writer: CallLogWriter?

    package init(metrics: GatewayMetrics, cache: KeyCache, budgets: BudgetBook, perKeyLabels: Bool, writer: CallLogWriter? = nil) {
        self.metrics = metrics
        self.writer = writer
        self.cache = cache
        self.budgets = budgets
        self.perKeyLabels = perKeyLabels
    }

    package func register(on router: Router<GatewayContext>) {
        router.get("metrics") { _, _ in
            let now = Date()
            // Environment budgets always; each key's only with per-key labels, which bound the series count.
            for claim in budgets.allClaims(keys: perKeyLabels ? cache.allKeys() : []) {
                metrics.setBudget(scope: claim.scope.label, status: await budgets.status(of: claim, at: now))
            }
            if let writer { metrics.setCallLog(backlog: writer.backlogCount, dropped: writer.droppedCount) }
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: metrics.registry.emitToBuffer())))
        }
    }
}
