import Foundation
import PerimeterCore
import PerimeterSQLite
import PerimeterStorage
import Testing

typealias Store = KeyStore & CallLog & AdminTokenStore & SealedSecretStore & AuditLog & FindingStore & AlertStore

/// A storage backend under test. The conformance suite runs once per case.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case memory
    case sqlite

    var testDescription: String { rawValue }

    /// Backends this machine can run.
    static var available: [Backend] { allCases }

    func makeStore() throws -> any Store {
        switch self {
        case .memory:
            return MemoryStore()
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("perimeter-tests-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            return try SQLiteStore(path: directory.appendingPathComponent("perimeter.db").path)
        }
    }
}
