import Foundation
import PerimeterCore

/// A leaked key a scanner found and reported (`perimeter scan --report`): where, which rule, and the
/// SHA-256 of the secret text; never the secret.
public struct ReportedFinding: Codable, Sendable, Hashable {
    public var rule: String
    public var provider: String?
    public var path: String
    public var line: Int?
    public var commit: String?
    public var sha256: String
    public var managedKeyID: String?
    /// Who reported it from their machine (`perimeter scan --sweep --report --owner NAME`) and the
    /// machine's hostname; `nil` for a repository scan's report.
    public var owner: String?
    public var hostname: String?
    /// `managed`, `provider_key_held_by_gateway` or `provider_key`, as the scanner classified it.
    public var classification: String?
    /// When the gateway first received it.
    public var reportedAt: Date?

    public init(
        rule: String, provider: String?, path: String, line: Int?, commit: String?, sha256: String, managedKeyID: String?,
        owner: String? = nil, hostname: String? = nil, classification: String? = nil, reportedAt: Date? = nil
    ) {
        self.rule = rule
        self.provider = provider
        self.path = path
        self.line = line
        self.commit = commit
        self.sha256 = sha256
        self.managedKeyID = managedKeyID
        self.owner = owner
        self.hostname = hostname
        self.classification = classification
        self.reportedAt = reportedAt
    }

    enum CodingKeys: String, CodingKey {
        case rule, provider, path, line, commit, sha256
        case managedKeyID = "managed_key_id"
        case owner, hostname, classification
        case reportedAt = "reported_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(rule, forKey: .rule)
        try container.encode(provider, forKey: .provider)
        try container.encode(path, forKey: .path)
        try container.encode(line, forKey: .line)
        try container.encode(commit, forKey: .commit)
        try container.encode(sha256, forKey: .sha256)
        try container.encode(managedKeyID, forKey: .managedKeyID)
        try container.encode(owner, forKey: .owner)
        try container.encode(hostname, forKey: .hostname)
        try container.encode(classification, forKey: .classification)
        try container.encode(reportedAt.map(Timestamp.format), forKey: .reportedAt)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        rule = try container.decode(String.self, forKey: .rule)
        provider = try container.decodeIfPresent(String.self, forKey: .provider)
        path = try container.decode(String.self, forKey: .path)
        line = try container.decodeIfPresent(Int.self, forKey: .line)
        commit = try container.decodeIfPresent(String.self, forKey: .commit)
        sha256 = try container.decode(String.self, forKey: .sha256)
        managedKeyID = try container.decodeIfPresent(String.self, forKey: .managedKeyID)
        owner = try container.decodeIfPresent(String.self, forKey: .owner)
        hostname = try container.decodeIfPresent(String.self, forKey: .hostname)
        classification = try container.decodeIfPresent(String.self, forKey: .classification)
        reportedAt = nil
    }
}

/// Findings reported by scans, one per (secret, path, rule, owner, hostname): reporting the same again
/// changes nothing, and one key on two people's machines is two findings.
public protocol FindingStore: Sendable {
    /// Adds the findings not stored yet; returns how many were new.
    func recordFindings(_ findings: [ReportedFinding], at time: Date) async throws -> Int
    func reportedFindings() async throws -> [ReportedFinding]
}

extension ReportedFinding {
    /// What makes a finding the same as another: its secret, path, rule, owner and machine.
    public var identity: String {
        [sha256, path, rule, owner ?? "", hostname ?? ""].joined(separator: "\u{0}")
    }
}
