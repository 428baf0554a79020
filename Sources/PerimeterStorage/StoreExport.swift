import Foundation
import PerimeterCore

/// Where a page of alerts ended: the last alert's time and id.
public struct AlertPosition: Sendable, Hashable {
    public var time: Date
    public var id: String

    public init(_ alert: Alert) {
        time = alert.time
        id = alert.id
    }
}

/// What moving an installation to another database (`perimeter db copy`) reads beyond the stores'
/// everyday queries: the call log, audit log and alerts page by page, every version of every sealed secret, and how many
/// rows each table holds, to verify the copy.
public protocol StoreExport: Sendable {
    /// Calls in id order, after `id` (from the start when nil), at most `limit`.
    func exportCalls(after id: String?, limit: Int) async throws -> [CallRecord]
    /// Every version of every sealed secret, by name then version.
    func exportSealedSecrets() async throws -> [SealedSecret]
    /// Audit entries in the order they were written, after `position` (the last page's, from the
    /// start when nil), at most `limit`, with the position of the last one.
    func exportAudit(after position: Int64?, limit: Int) async throws -> (entries: [AuditEntry], last: Int64?)
    /// Alerts with their deliveries, oldest first (time, then id), after `after`, at most `limit`.
    func exportAlerts(after: AlertPosition?, limit: Int) async throws -> [StoredAlert]
    /// Rows per table: keys, admin_tokens, calls, sealed_secrets, audit_log, findings, alerts, alert_deliveries.
    func exportCounts() async throws -> [String: Int]
}

/// The tables `exportCounts` counts, in the order a copy fills them.
public let exportedTables = [
    "keys", "admin_tokens", "sealed_secrets", "calls", "audit_log", "findings", "alerts", "alert_deliveries",
]
