import Foundation
import Logging
import PerimeterConfiguration
import PerimeterPostgres
import PerimeterSQLite

/// `perimeter db migrate [--dry-run]`: what the configured database's schema lacks, and applying it.
/// The gateway migrates at start anyway; this lets an operator see (and review) the change first.
package struct MigrationPlan: Encodable, Sendable {
    package struct Step: Encodable, Sendable {
        package var name: String
        /// The SQL, for PostgreSQL; SQLite's migrations are code and show by name only.
        package var statements: [String]
    }

    package var database: String
    package var pending: [Step]
    package var applied: Bool

    /// The plan for `configuration`'s database; with `apply`, the migrations are applied too.
    package static func make(
        configuration: GatewayConfiguration, environment: [String: String], apply: Bool, logger: Logger
    ) async throws -> MigrationPlan {
        let pending: [Step]
        switch configuration.database {
        case .memory:
            pending = []
        case .sqlite(let path):
            pending = try SQLiteStore.pendingMigrations(path: path).map { Step(name: $0, statements: []) }
        case .postgres(let location):
            let password = try await databasePassword(configuration, environment: environment)
            pending = try await PostgresStore.pendingMigrations(
                configuration: location.connectionConfiguration(password: password), logger: logger
            ).map { Step(name: $0.name, statements: $0.statements) }
        }
        if apply, !pending.isEmpty {
            let store = try await openStore(configuration, environment: environment, logger: logger)
            await (store as? PostgresStore)?.close()
        }
        return MigrationPlan(database: configuration.database.description, pending: pending, applied: apply && !pending.isEmpty)
    }
}
