import Foundation
import PerimeterCore

/// What moving an installation to another database (`perimeter db copy`) reads beyond the stores'
/// everyday queries: every call page by page, every version of every sealed secret, and how many
/// rows each table holds, to verify the copy.
public protocol StoreExport: Sendable {
    /// Calls in id order, after `id` (from the start when nil), at most `limit`.
    func exportCalls(after id: String?, limit: Int) async throws -> [CallRecord]
    /// Every version of every sealed secret, by name then version.
    func exportSealedSecrets() async throws -> [SealedSecret]
    /// Rows per table: keys, admin_tokens, calls, sealed_secrets, audit_log, findings, alerts, alert_deliveries.
    func exportCounts() async throws -> [String: Int]
}

/// The tables `exportCounts` counts, in the order a copy fills them.
public let exportedTables = [
    "keys", "admin_tokens", "sealed_secrets", "calls", "audit_log", "findings", "alerts", "alert_deliveries",
]
