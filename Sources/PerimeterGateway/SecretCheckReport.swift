import Foundation
import Logging
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
        let store = try openStore(configuration.database, file: configuration.sourceFile)
        let setup = try await SecretSetup.make(configuration: configuration, storage: store, environment: environment, logger: logger)
        var rows: [SecretCheckRow] = []
        for (reference, usedBy) in SecretSetup.references(in: configuration) {
            rows.append(SecretCheckRow(await setup.resolver.refresh(reference), usedBy: usedBy))
        }
        await setup.shutdownClients()
        return SecretCheckReport(ok: rows.allSatisfy { $0.status == "ok" }, secrets: rows, notices: setup.notices)
    }
}

/// One reference as `serve --check` and `secrets reload` report it: which store answered, with which
/// version, or why not.
package struct SecretCheckRow: Codable, Sendable {
    package var reference: String
    package var usedBy: [String]
    package var store: String
    package var status: String
    package var version: String?
    package var error: String?

    enum CodingKeys: String, CodingKey {
        case reference, store, status, version, error
        case usedBy = "used_by"
    }

    init(_ check: SecretCheck, usedBy: [String]) {
        reference = check.reference.description
        self.usedBy = usedBy
        store = check.store
        status = check.ok ? "ok" : "error"
        version = check.version
        error = check.error
    }

    /// Writes `null` for a missing version or error, so every row has every field.
    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(reference, forKey: .reference)
        try container.encode(usedBy, forKey: .usedBy)
        try container.encode(store, forKey: .store)
        try container.encode(status, forKey: .status)
        try container.encode(version, forKey: .version)
        try container.encode(error, forKey: .error)
    }
}
