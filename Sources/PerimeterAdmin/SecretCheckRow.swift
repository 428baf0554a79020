import PerimeterSecrets

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

    package init(_ check: SecretCheck, usedBy: [String]) {
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
