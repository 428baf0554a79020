import Foundation
import Logging
import PerimeterAdmin
import PerimeterConfiguration
import PerimeterPostgres
import PerimeterSecrets

/// What `perimeter serve --check` reports: every secret reference of the configuration, which store
/// answered, and the version it gave; never a value.
package struct SecretCheckReport: Encodable, Sendable {
    package var ok: Bool
    package var secrets: [SecretCheckRow]
    /// One-time messages from opening the stores (a created master key file).
    package var notices: [String]

    enum CodingKeys: String, CodingKey {
        case ok, secrets, notices
    }

    /// Opens the stores as `serve` would and resolves every reference once, without listening.
    package static func run(
        configuration: GatewayConfiguration, environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger
    ) async throws -> SecretCheckReport {
        let store = try await openStore(configuration, environment: environment, logger: logger)
        let setup = try await SecretSetup.make(configuration: configuration, storage: store, environment: environment, logger: logger)
        var rows: [SecretCheckRow] = []
        for (reference, usedBy) in configuration.secretReferences {
            rows.append(SecretCheckRow(await setup.resolver.refresh(reference), usedBy: usedBy))
        }
        await setup.shutdownClients()
        await (store as? PostgresStore)?.close()
        return SecretCheckReport(ok: rows.allSatisfy { $0.status == "ok" }, secrets: rows, notices: setup.notices)
    }
}
