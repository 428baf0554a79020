import Foundation
import PerimeterCore
import Synchronization

/// Keys, admin tokens and calls held in memory: the reference backend for tests and `--database memory`.
public final class MemoryStore: KeyStore, CallLog, AdminTokenStore, SealedSecretStore, AuditLog, FindingStore, AlertStore,
    RotationReplayStore, Sendable
{
    struct State {
        var keys: [String: VirtualKey] = [:]
        var adminTokens: [AdminToken] = []
        var calls: [CallRecord] = []
        var callIDs: Set<String> = []
        var sealedSecrets: [String: [SealedSecret]] = [:]
        var audit: [AuditEntry] = []
        var findings: [String: ReportedFinding] = [:]
        var alerts: [Alert] = []
        var deliveries: [AlertDelivery] = []
        var rotationReplays: [String: RotationReplay] = [:]
    }

    let state = Mutex(State())
    let providerKeys = Mutex([String: ProviderKeySnapshot]())

    public init() {}

    // MARK: KeyStore

    public func insert(_ key: VirtualKey) async throws {
        try state.withLock { state in
            guard state.keys[key.id] == nil else { throw StoreConflict("a key with id \(key.id) exists") }
            guard !state.keys.values.contains(where: { $0.digest == key.digest }) else {
                throw StoreConflict("a key with the same secret exists")
            }
            state.keys[key.id] = key
        }
    }

    public func key(id: String) async throws -> VirtualKey? {
        state.withLock { $0.keys[id] }
    }

    public func keys(env: String?) async throws -> [VirtualKey] {
        state.withLock { state in
            state.keys.values.filter { env == nil || $0.env == env }
                .sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
        }
    }

    public func revoke(id: String, at time: Date) async throws -> VirtualKey? {
        state.withLock { state in
            guard var key = state.keys[id] else { return nil }
            if key.revokedAt == nil {
                key.revokedAt = time
                state.keys[id] = key
            }
            return key
        }
    }

    public func update(id: String, _ change: @Sendable (inout VirtualKey) throws -> Void) async throws -> VirtualKey? {
        try state.withLock { state in
            guard let current = state.keys[id] else { return nil }
            var changed = current
            try change(&changed)
            changed.keepingIdentity(of: current)
            state.keys[id] = changed
            return changed
        }
    }

    public func rotate(id: String, _ rotate: @Sendable (VirtualKey) throws -> VirtualKey) async throws -> VirtualKey? {
        try state.withLock { state in
            guard let current = state.keys[id] else { return nil }
            var rotated = try rotate(current)
            // Only the secret changes; everything else stays the key's.
            var kept = current
            kept.digest = rotated.digest
            kept.prefix = rotated.prefix
            kept.generation = rotated.generation
            kept.retiredSecrets = rotated.retiredSecrets
            kept.rotatedAt = rotated.rotatedAt
            rotated = kept
            state.keys[id] = rotated
            return rotated
        }
    }

    public func recordUse(_ lastUsed: [String: Date]) async throws {
        state.withLock { state in
            for (id, time) in lastUsed {
                guard var key = state.keys[id] else { continue }
                if key.lastUsedAt.map({ $0 < time }) ?? true {
                    key.lastUsedAt = time
                    state.keys[id] = key
                }
            }
        }
    }

    // MARK: AdminTokenStore

    public func insertAdminToken(_ token: AdminToken) async throws {
        state.withLock { $0.adminTokens.append(token) }
    }

    public func adminTokens() async throws -> [AdminToken] {
        state.withLock { $0.adminTokens }
    }

    public func revokeAdminToken(id: String, at time: Date) async throws -> AdminToken? {
        state.withLock { state in
            guard let index = state.adminTokens.firstIndex(where: { $0.id == id }) else { return nil }
            if state.adminTokens[index].revokedAt == nil { state.adminTokens[index].revokedAt = time }
            return state.adminTokens[index]
        }
    }

    // MARK: AlertStore

    public func insertAlert(_ alert: Alert, channels: [String], at time: Date) async throws -> Bool {
        state.withLock { state in
            if let key = alert.onceKey, state.alerts.contains(where: { $0.onceKey == key }) { return false }
            state.alerts.append(alert)
            state.deliveries += channels.map { AlertDelivery(alertID: alert.id, channel: $0, nextAttempt: time) }
            return true
        }
    }

    public func claimDueDeliveries(at time: Date, limit: Int, until: Date) async throws -> [(Alert, AlertDelivery)] {
        state.withLock { state in
            let alerts = Dictionary(uniqueKeysWithValues: state.alerts.map { ($0.id, $0) })
            let due = state.deliveries.indices.filter {
                state.deliveries[$0].deliveredAt == nil && state.deliveries[$0].nextAttempt <= time
            }
            .compactMap { index in alerts[state.deliveries[index].alertID].map { (index, $0) } }
            .sorted { ($0.1.time, $0.1.id) < ($1.1.time, $1.1.id) }
            .prefix(limit)
            var claimed: [(Alert, AlertDelivery)] = []
            for (index, alert) in due {
                claimed.append((alert, state.deliveries[index]))
                state.deliveries[index].nextAttempt = until
            }
            return claimed
        }
    }

    public func markDelivered(alertID: String, channel: String, at time: Date) async throws {
        state.withLock { state in
            for index in state.deliveries.indices
            where state.deliveries[index].alertID == alertID && state.deliveries[index].channel == channel
                && state.deliveries[index].deliveredAt == nil
            {
                state.deliveries[index].deliveredAt = time
                state.deliveries[index].attempts += 1
                state.deliveries[index].lastError = nil
            }
        }
    }

    public func markFailed(alertID: String, channel: String, error: String, nextAttempt: Date) async throws {
        state.withLock { state in
            for index in state.deliveries.indices
            where state.deliveries[index].alertID == alertID && state.deliveries[index].channel == channel
                && state.deliveries[index].deliveredAt == nil
            {
                state.deliveries[index].attempts += 1
                state.deliveries[index].lastError = error
                state.deliveries[index].nextAttempt = nextAttempt
            }
        }
    }

    public func alerts(since: Date?, limit: Int) async throws -> [StoredAlert] {
        state.withLock { state in
            state.alerts.filter { alert in since.map { alert.time >= $0 } ?? true }
                .sorted { ($0.time, $0.id) > ($1.time, $1.id) }
                .prefix(limit)
                .map { alert in
                    StoredAlert(
                        alert: alert, deliveries: state.deliveries.filter { $0.alertID == alert.id }.sorted { $0.channel < $1.channel })
                }
        }
    }

    // MARK: FindingStore

    public func recordFindings(_ findings: [ReportedFinding], at time: Date) async throws -> Int {
        state.withLock { state in
            var added = 0
            for var finding in findings where state.findings[finding.identity] == nil {
                finding.reportedAt = time
                state.findings[finding.identity] = finding
                added += 1
            }
            return added
        }
    }

    public func reportedFindings() async throws -> [ReportedFinding] {
        state.withLock { state in
            state.findings.values.sorted {
                ($0.path, $0.line ?? 0, $0.rule, $0.owner ?? "", $0.hostname ?? "")
                    < ($1.path, $1.line ?? 0, $1.rule, $1.owner ?? "", $1.hostname ?? "")
            }
        }
    }

    // MARK: AuditLog

    public func appendAudit(_ entry: AuditEntry) async throws {
        state.withLock { $0.audit.append(entry) }
    }

    public func auditEntries(since: Date?, limit: Int) async throws -> [AuditEntry] {
        state.withLock { state in
            Array(state.audit.reversed().filter { since == nil || $0.time >= since! }.prefix(limit))
        }
    }

    // MARK: SealedSecretStore

    public func appendSealedSecret(_ secret: SealedSecret) async throws {
        try state.withLock { state in
            if state.sealedSecrets[secret.name, default: []].contains(where: { $0.version == secret.version }) {
                throw SealedSecretStoreError.versionExists(name: secret.name, version: secret.version)
            }
            state.sealedSecrets[secret.name, default: []].append(secret)
        }
    }

    public func latestSealedSecret(name: String) async throws -> SealedSecret? {
        state.withLock { $0.sealedSecrets[name]?.max { $0.version < $1.version } }
    }

    public func sealedSecretSummaries() async throws -> [SealedSecretSummary] {
        state.withLock { state in
            state.sealedSecrets.compactMap { name, versions -> SealedSecretSummary? in
                guard let latest = versions.max(by: { $0.version < $1.version }),
                    let first = versions.min(by: { $0.createdAt < $1.createdAt })
                else { return nil }
                return SealedSecretSummary(
                    name: name, latestVersion: latest.version, versions: versions.count, createdAt: first.createdAt,
                    updatedAt: latest.createdAt, masterKeyID: latest.masterKeyID)
            }.sorted { $0.name < $1.name }
        }
    }

    public func deleteSealedSecret(name: String) async throws -> Int {
        state.withLock { $0.sealedSecrets.removeValue(forKey: name)?.count ?? 0 }
    }

    // MARK: CallLog

    public func append(_ records: [CallRecord]) async throws {
        state.withLock { state in
            for record in records {
                if state.callIDs.insert(record.id).inserted {
                    state.calls.append(record)
                } else if let index = state.calls.firstIndex(where: { $0.id == record.id && $0.isReplaced(by: record) }) {
                    state.calls[index] = record
                }
            }
        }
    }

    public func closeInFlight() async throws -> Int {
        state.withLock { state in
            var closed = 0
            for index in state.calls.indices where state.calls[index].outcome == .inFlight {
                state.calls[index].outcome = .interrupted
                state.calls[index].usageSource = .reserved
                closed += 1
            }
            return closed
        }
    }

    public func calls(matching query: CallQuery) async throws -> [CallRecord] {
        let matching = state.withLock { $0.calls.filter(query.matches) }
        return Array(matching.sorted { CallCursor($0) > CallCursor($1) }.prefix(query.limit))
    }

    public func spendSeries(_ query: SpendSeriesQuery) async throws -> [SpendPoint] {
        query.series(of: state.withLock { $0.calls })
    }

    public func callBreakdown(_ query: BreakdownQuery) async throws -> [BreakdownRow] {
        query.breakdown(of: state.withLock { $0.calls })
    }

    public func keySources() async throws -> [(keyID: String, address: String, firstSeen: Date)] {
        state.withLock { state in
            var first: [String: (String, String, Date)] = [:]
            for call in state.calls {
                guard let id = call.keyID, let address = call.clientIP else { continue }
                let key = id + "|" + address
                if first[key].map({ call.time < $0.2 }) ?? true { first[key] = (id, address, call.time) }
            }
            return first.values.map { (keyID: $0.0, address: $0.1, firstSeen: $0.2) }
        }
    }

    public func lastClientAddresses() async throws -> [String: String] {
        state.withLock { state in
            var latest: [String: (Date, String)] = [:]
            for call in state.calls {
                guard let id = call.keyID, let address = call.clientIP else { continue }
                if latest[id].map({ $0.0 <= call.time }) ?? true { latest[id] = (call.time, address) }
            }
            return latest.mapValues(\.1)
        }
    }

    public func spend(_ query: SpendQuery) async throws -> [SpendRow] {
        let records = state.withLock { state in
            state.calls.filter { record in
                record.outcome != .inFlight && (query.since.map { record.time >= $0 } ?? true)
                    && (query.until.map { record.time < $0 } ?? true)
            }
        }
        var rows: [String: SpendRow] = [:]
        for record in records {
            let group = query.group(of: record)
            var row = rows[group] ?? SpendRow(group: group)
            row.calls += 1
            row.inputTokens += record.usage.inputTokens
            row.cachedInputTokens += record.usage.cachedInputTokens
            row.outputTokens += record.usage.outputTokens
            if let cost = record.cost { row.cost = row.cost + cost } else { row.unpricedCalls += 1 }
            rows[group] = row
        }
        return SpendRow.ranked(Array(rows.values))
    }
}

// MARK: - StoreExport

extension MemoryStore: StoreExport {
    public func exportCalls(after id: String?, limit: Int) async throws -> [CallRecord] {
        state.withLock { state in
            Array(state.calls.filter { record in id.map { record.id > $0 } ?? true }.sorted { $0.id < $1.id }.prefix(limit))
        }
    }

    public func exportAudit(after position: Int64?, limit: Int) async throws -> (entries: [AuditEntry], last: Int64?) {
        state.withLock { state in
            let start = Int(clamping: position ?? 0)
            guard start < state.audit.count else { return ([], position) }
            let entries = Array(state.audit[start..<min(state.audit.count, start + limit)])
            return (entries, Int64(start + entries.count))
        }
    }

    public func exportAlerts(after: AlertPosition?, limit: Int) async throws -> [StoredAlert] {
        state.withLock { state in
            state.alerts.filter { alert in after.map { (alert.time, alert.id) > ($0.time, $0.id) } ?? true }
                .sorted { ($0.time, $0.id) < ($1.time, $1.id) }
                .prefix(limit)
                .map { alert in
                    StoredAlert(
                        alert: alert, deliveries: state.deliveries.filter { $0.alertID == alert.id }.sorted { $0.channel < $1.channel })
                }
        }
    }

    public func exportSealedSecrets() async throws -> [SealedSecret] {
        state.withLock { state in
            state.sealedSecrets.values.flatMap { $0 }.sorted { ($0.name, $0.version) < ($1.name, $1.version) }
        }
    }

    public func exportCounts() async throws -> [String: Int] {
        let (keys, tokens, sealed, calls, alerts, deliveries) = state.withLock { state in
            (
                state.keys.count, state.adminTokens.count, state.sealedSecrets.values.map(\.count).reduce(0, +), state.calls.count,
                state.alerts.count, state.deliveries.count
            )
        }
        return [
            "keys": keys, "admin_tokens": tokens, "sealed_secrets": sealed, "calls": calls,
            "audit_log": try await auditEntries(since: nil, limit: .max).count, "findings": try await reportedFindings().count,
            "alerts": alerts, "alert_deliveries": deliveries,
        ]
    }
}
