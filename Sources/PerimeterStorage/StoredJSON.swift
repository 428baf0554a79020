import Foundation

/// JSON inside a database column (a key's retired secrets and rotation schedule, an alert's details),
/// the same for every backend: dates as integer milliseconds, keys sorted, so SQLite and PostgreSQL
/// hold the same text.
package enum StoredJSON {
    package static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.dateEncodingStrategy = .millisecondsSince1970
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    package static func decode<Value: Decodable>(_ type: Value.Type, _ text: String) throws -> Value {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return try decoder.decode(type, from: Data(text.utf8))
    }
}

extension Date {
    /// A time as every backend stores it: integer milliseconds since 1970 (UTC).
    package var milliseconds: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }
    package init(milliseconds: Int64) { self.init(timeIntervalSince1970: Double(milliseconds) / 1000) }
}
