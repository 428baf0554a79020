import Foundation
import PerimeterCore
import PerimeterStorage
import Testing

/// What `perimeter db copy` reads, page by page, on every backend: each row once, in order, however
/// the pages fall.
@Suite struct StoreExportTests {
    @Test(arguments: Backend.available)
    func auditAndAlertsPageInOrderWithNothingMissedOrRepeated(backend: Backend) async throws {
        let store = try await backend.makeStore()
        let export = try #require(store as? any StoreExport)
        let t0 = Date(timeIntervalSince1970: 1_790_000_000)
        // Written out of time order on purpose: the audit log's order is the order of writing.
        let entries = (0..<7).map { index in
            AuditEntry(
                time: t0.addingTimeInterval(Double((index * 5) % 7)), actor: "a\(index)", actorID: nil, address: nil, action: "key.create",
                target: "k\(index)")
        }
        for entry in entries { try await store.appendAudit(entry) }
        var audited: [String] = []
        var position: Int64?
        while true {
            let page = try await export.exportAudit(after: position, limit: 3)
            guard !page.entries.isEmpty else { break }
            audited += page.entries.map(\.id)
            position = page.last
        }
        #expect(audited == entries.map(\.id))

        // Two alerts at the same millisecond: the id orders them.
        let times = [0, 3, 1, 1, 2].map { t0.addingTimeInterval(Double($0)) }
        let alerts = times.enumerated().map { index, time in
            Alert(type: .denialBurst, severity: .warning, time: time, keyID: "k", env: nil, message: "m\(index)")
        }
        for alert in alerts { _ = try await store.insertAlert(alert, channels: ["hook"], at: alert.time) }
        try await store.markDelivered(alertID: alerts[1].id, channel: "hook", at: t0.addingTimeInterval(9))
        var exported: [StoredAlert] = []
        var after: AlertPosition?
        while true {
            let page = try await export.exportAlerts(after: after, limit: 2)
            guard let last = page.last else { break }
            exported += page
            after = AlertPosition(last.alert)
        }
        #expect(exported.map(\.alert.id) == alerts.sorted { ($0.time, $0.id) < ($1.time, $1.id) }.map(\.id))
        #expect(exported.first { $0.alert.id == alerts[1].id }?.deliveries.first?.deliveredAt == t0.addingTimeInterval(9))
    }
}
