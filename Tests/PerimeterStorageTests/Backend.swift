import Foundation
import Logging
import PerimeterCore
import PerimeterPostgres
import PerimeterSQLite
import PerimeterStorage
import PostgresNIO
import Testing

typealias Store = KeyStore & CallLog & AdminTokenStore & SealedSecretStore & AuditLog & FindingStore & AlertStore
    & RotationReplayStore & ProviderKeyStore

/// A storage backend under test. The conformance suite runs once per case.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case memory
    case sqlite
    /// A real PostgreSQL server, when `POSTGRES_URL` names one (`scripts/test` starts a throwaway cluster).
    case postgres

    var testDescription: String { rawValue }

    /// Backends this machine can run.
    static var available: [Backend] {
        ProcessInfo.processInfo.environment["POSTGRES_URL"]?.isEmpty == false ? allCases : [.memory, .sqlite]
    }

    func makeStore() async throws -> any Store {
        switch self {
        case .memory:
            return MemoryStore()
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("perimeter-tests-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            return try SQLiteStore(path: directory.appendingPathComponent("perimeter.db").path)
        case .postgres:
            return try await PostgresTestServer.freshStore()
        }
    }
}

/// Each store on its own new database of the server `POSTGRES_URL` names, so tests never see each
/// other's rows.
enum PostgresTestServer {
    static var location: PostgresLocation {
        get throws {
            let url = ProcessInfo.processInfo.environment["POSTGRES_URL"] ?? ""
            return try PostgresLocation.parse(url).get()
        }
    }

    /// A client configuration for a new, empty database named `prefix` and a random suffix.
    static func freshDatabase(_ prefix: String = "perimeter_test_") async throws -> PostgresClient.Configuration {
        var location = try location
        let name = prefix + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try await withClient(location) { client in
            try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"))
        }
        location.database = name
        return try location.clientConfiguration(password: nil)
    }

    static func freshStore() async throws -> PostgresStore {
        // Dozens of stores start at once in the parallel suites: a connection may take long to come.
        try await PostgresStore(configuration: freshDatabase(), logger: Logger(label: "test"), connectionDeadline: .seconds(60))
    }

    /// Runs `body` with a client of the server's own database, then stops the client.
    static func withClient<T: Sendable>(_ location: PostgresLocation, _ body: (PostgresClient) async throws -> T) async throws -> T {
        let client = PostgresClient(configuration: try location.clientConfiguration(password: nil))
        let runner = Task { await client.run() }
        defer { runner.cancel() }
        return try await body(client)
    }
}
