import Foundation
import Logging
import PerimeterConfiguration
import PerimeterCore
import PerimeterPostgres
import PerimeterStorage

/// `perimeter db copy`: moves an installation to another database (SQLite to PostgreSQL, usually):
/// keys, admin tokens, sealed secrets, the call log, the audit log, findings and alerts with their
/// deliveries, then counts every table on both sides. The destination must be empty, so a copy is
/// never merged into a live installation.
package struct DatabaseCopy: Sendable, Encodable {
    package struct Table: Sendable, Encodable {
        package var name: String
        package var source: Int
        package var destination: Int
        package var matches: Bool

        init(name: String, source: Int, destination: Int) {
            self.name = name
            self.source = source
            self.destination = destination
            matches = source == destination
        }
    }

    package var source: String
    package var destination: String
    package var tables: [Table]
    /// Every table holds as many rows on both sides.
    package var verified: Bool

    /// Copies everything from `source` to `destination` (both opened, and migrated, from their
    /// locations); `progress` hears how many calls are copied so far.
    package static func run(
        from sourceLocation: DatabaseLocation, to destinationLocation: DatabaseLocation, environment: [String: String],
        logger: Logger, progress: @Sendable (Int) -> Void = { _ in }
    ) async throws -> DatabaseCopy {
        guard sourceLocation != .memory, destinationLocation != .memory, sourceLocation != destinationLocation else {
            throw CopyError("copy from one database on disk or server to another: memory holds nothing to copy")
        }
        if case .sqlite(let path) = sourceLocation, !FileManager.default.fileExists(atPath: path) {
            throw CopyError("there is no database at \(path) to copy from")
        }
        let source = try await open(sourceLocation, environment: environment, logger: logger)
        let destination: any ExportableStore
        do {
            destination = try await open(destinationLocation, environment: environment, logger: logger)
        } catch {
            await close(source)
            throw error
        }
        do {
            let copy = try await copy(
                from: source, to: destination, locations: (sourceLocation, destinationLocation), progress: progress)
            await close(source)
            await close(destination)
            return copy
        } catch {
            await close(source)
            await close(destination)
            throw error
        }
    }

    private static func copy(
        from source: any ExportableStore, to destination: any ExportableStore,
        locations: (source: DatabaseLocation, destination: DatabaseLocation), progress: @Sendable (Int) -> Void
    ) async throws -> DatabaseCopy {
        let (sourceLocation, destinationLocation) = locations

        let before = try await destination.exportCounts()
        if let table = exportedTables.first(where: { (before[$0] ?? 0) > 0 }) {
            throw CopyError("\(destinationLocation) is not empty (its \(table) table has rows); copy into a new database")
        }
        for key in try await source.allKeys() { try await destination.insert(key) }
        for token in try await source.adminTokens() { try await destination.insertAdminToken(token) }
        for secret in try await source.exportSealedSecrets() { try await destination.appendSealedSecret(secret) }
        var after: String?
        var copied = 0
        while true {
            let page = try await source.exportCalls(after: after, limit: 5000)
            guard let last = page.last else { break }
            try await destination.append(page)
            copied += page.count
            progress(copied)
            after = last.id
        }
        var position: Int64?
        while true {
            let page = try await source.exportAudit(after: position, limit: 5000)
            guard !page.entries.isEmpty else { break }
            for entry in page.entries { try await destination.appendAudit(entry) }
            position = page.last
        }
        let findings = try await source.reportedFindings()
        let byTime = Dictionary(grouping: findings) { $0.reportedAt ?? Date(timeIntervalSince1970: 0) }
        for time in byTime.keys.sorted() {
            _ = try await destination.recordFindings(byTime[time] ?? [], at: time)
        }
        var alertPosition: AlertPosition?
        while true {
            let page = try await source.exportAlerts(after: alertPosition, limit: 1000)
            guard let last = page.last else { break }
            alertPosition = AlertPosition(last.alert)
            try await copyAlerts(page, to: destination)
        }
        let sourceCounts = try await source.exportCounts()
        let destinationCounts = try await destination.exportCounts()
        let tables = exportedTables.map { Table(name: $0, source: sourceCounts[$0] ?? 0, destination: destinationCounts[$0] ?? 0) }
        return DatabaseCopy(
            source: sourceLocation.description, destination: destinationLocation.description, tables: tables,
            verified: tables.allSatisfy(\.matches))
    }

    typealias ExportableStore = Store & StoreExport

    /// Each alert with its deliveries as they stand: delivered, failed with its next attempt, or due.
    private static func copyAlerts(_ page: [StoredAlert], to destination: any ExportableStore) async throws {
        for stored in page {
            let first = stored.deliveries.map(\.nextAttempt).min() ?? stored.alert.time
            try await destination.insertAlert(stored.alert, channels: stored.deliveries.map(\.channel), at: first)
            for delivery in stored.deliveries {
                if let delivered = delivery.deliveredAt {
                    try await destination.markDelivered(alertID: delivery.alertID, channel: delivery.channel, at: delivered)
                } else if let error = delivery.lastError {
                    try await destination.markFailed(
                        alertID: delivery.alertID, channel: delivery.channel, error: error, nextAttempt: delivery.nextAttempt)
                }
            }
        }
    }

    private static func open(_ location: DatabaseLocation, environment: [String: String], logger: Logger) async throws
        -> any ExportableStore
    {
        var configuration = GatewayConfiguration()
        configuration.database = location
        guard let store = try await openStore(configuration, environment: environment, logger: logger) as? any ExportableStore else {
            throw CopyError("\(location) cannot be exported")
        }
        return store
    }

    private static func close(_ store: any ExportableStore) async {
        await (store as? PostgresStore)?.close()
    }
}

/// Why a copy did not start.
package struct CopyError: Error, CustomStringConvertible {
    package var description: String
    init(_ description: String) { self.description = description }
}
