import PerimeterCore
import PerimeterStorage

/// The inventory's `owners` section: which keys each person has. Keys found on their machines
/// (`perimeter scan --sweep --report --owner NAME`), one entry per secret with every place it was
/// found, and the virtual keys issued to them (a key's `owner`), so `perimeter inventory --by owner`
/// answers from one document.
extension InventoryReport {
    package struct Owner: Codable, Sendable {
        var owner: String
        /// The machines their reports came from.
        var hostnames: [String]
        /// Live virtual keys whose owner is this name.
        var virtualKeys: [String]
        var keys: [FoundKey]
        /// How many of `keys` have each classification.
        var classifications: [String: Int]

        enum CodingKeys: String, CodingKey {
            case owner, hostnames, keys, classifications
            case virtualKeys = "virtual_keys"
        }
    }

    /// One secret found on someone's machines: never the secret, only its SHA-256. Absent values are
    /// left out (here and in ``Location``).
    package struct FoundKey: Codable, Sendable {
        var sha256: String
        var rule: String
        var provider: String?
        var classification: String?
        var managedKeyID: String?
        var locations: [Location]

        enum CodingKeys: String, CodingKey {
            case sha256, rule, provider, classification, locations
            case managedKeyID = "managed_key_id"
        }
    }

    package struct Location: Codable, Sendable {
        var hostname: String?
        var path: String
        var line: Int?
        var reportedAt: String?

        enum CodingKeys: String, CodingKey {
            case hostname, path, line
            case reportedAt = "reported_at"
        }
    }

    /// Most serious first: a secret reported once without a gateway (`provider_key`) and once with
    /// one that holds it is the gateway's own key.
    static let classificationRank = ["provider_key_held_by_gateway": 0, "provider_key": 1, "managed": 2]

    /// Every owner with findings or live virtual keys, by name.
    static func owners(findings: [ReportedFinding], keys: [Key]) -> [Owner] {
        let reported = Dictionary(grouping: findings.filter { $0.owner != nil }) { $0.owner ?? "" }
        let issued = Dictionary(grouping: keys.filter { $0.owner != nil && $0.status != "revoked" }) { $0.owner ?? "" }
        return Set(reported.keys).union(issued.keys).sorted().map { name in
            let found = reported[name] ?? []
            let keys = Dictionary(grouping: found, by: \.sha256).values.map(foundKey).sorted {
                (rank($0.classification), $0.rule, $0.sha256) < (rank($1.classification), $1.rule, $1.sha256)
            }
            return Owner(
                owner: name, hostnames: Set(found.compactMap(\.hostname)).sorted(),
                virtualKeys: (issued[name] ?? []).map(\.id).sorted(), keys: keys,
                classifications: Dictionary(grouping: keys.compactMap(\.classification)) { $0 }.mapValues(\.count))
        }
    }

    private static func rank(_ classification: String?) -> Int {
        classification.flatMap { classificationRank[$0] } ?? classificationRank.count
    }

    /// One secret's reports: the most serious classification any of them had, every place.
    private static func foundKey(_ reports: [ReportedFinding]) -> FoundKey {
        let first = reports[0]
        let classification = reports.compactMap(\.classification).min { rank($0) < rank($1) }
        let locations = reports.map {
            Location(hostname: $0.hostname, path: $0.path, line: $0.line, reportedAt: $0.reportedAt.map(Timestamp.format))
        }.sorted { ($0.hostname ?? "", $0.path, $0.line ?? 0) < ($1.hostname ?? "", $1.path, $1.line ?? 0) }
        return FoundKey(
            sha256: first.sha256, rule: first.rule, provider: first.provider, classification: classification,
            managedKeyID: reports.lazy.compactMap(\.managedKeyID).first, locations: locations)
    }
}
