import Foundation

/// The JSON form of a key's limits, shared by the admin API and the stores:
/// `{"budget":{"usd":10,"period":"month"},"rpm":60,"tpm":100000,"allowed_ips":["10.0.0.0/8"],
///   "models":["gpt-4o*"],"operations":["chat"],"tools":"deny"|"allow"|["name"],"expires_at":"…","providers":["azure"]}`.
/// Absent fields mean no restriction.
extension KeyPolicy: Codable {
    package enum CodingKeys: String, CodingKey, CaseIterable {
        case budget, rpm, tpm, allowedIPs = "allowed_ips", models, operations, tools, expiresAt = "expires_at", providers
    }

    public init(from decoder: any Decoder) throws {
        try decoder.refuseUnknownKeys(of: CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        budget = try c.decodeIfPresent(Budget.self, forKey: .budget)
        requestsPerMinute = try c.decodeWholeNumberIfPresent(forKey: .rpm)
        tokensPerMinute = try c.decodeWholeNumberIfPresent(forKey: .tpm)
        allowedIPs = try c.decodeIfPresent([CIDR].self, forKey: .allowedIPs) ?? []
        allowedModels = try (c.decodeIfPresent([String].self, forKey: .models) ?? []).map(ModelPattern.init)
        allowedOperations = try c.decodeIfPresent([CallOperation].self, forKey: .operations).map(Set.init)
        tools = try c.decodeIfPresent(ToolPolicy.self, forKey: .tools) ?? .allowed
        allowedProviders = try c.decodeIfPresent([String].self, forKey: .providers) ?? []
        expiresAt = try c.decodeIfPresent(String.self, forKey: .expiresAt).map { text in
            guard let date = Timestamp.parse(text) else {
                throw DecodingError.dataCorruptedError(forKey: .expiresAt, in: c, debugDescription: "expires_at must be an RFC 3339 time")
            }
            return date
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(budget, forKey: .budget)
        try c.encodeIfPresent(requestsPerMinute, forKey: .rpm)
        try c.encodeIfPresent(tokensPerMinute, forKey: .tpm)
        if !allowedIPs.isEmpty { try c.encode(allowedIPs, forKey: .allowedIPs) }
        if !allowedModels.isEmpty { try c.encode(allowedModels.map(\.description), forKey: .models) }
        try c.encodeIfPresent(allowedOperations.map { $0.map(\.rawValue).sorted() }, forKey: .operations)
        if tools != .allowed { try c.encode(tools, forKey: .tools) }
        if !allowedProviders.isEmpty { try c.encode(allowedProviders, forKey: .providers) }
        try c.encodeIfPresent(expiresAt.map(Timestamp.format), forKey: .expiresAt)
    }
}

extension Budget {
    enum CodingKeys: String, CodingKey, CaseIterable { case usd, period }

    public init(from decoder: any Decoder) throws {
        try decoder.refuseUnknownKeys(of: CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(limit: Money(usd: try c.decode(Double.self, forKey: .usd)), period: try c.decode(BudgetPeriod.self, forKey: .period))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(limit.usd, forKey: .usd)
        try c.encode(period, forKey: .period)
    }
}

extension ToolPolicy: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let names = try? container.decode([String].self) {
            self = .only(names)
            return
        }
        switch try container.decode(String.self) {
        case "allow": self = .allowed
        case "deny": self = .denied
        case let other:
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "tools must be allow, deny or a list of names, not \(other)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .allowed: try container.encode("allow")
        case .denied: try container.encode("deny")
        case .only(let names): try container.encode(names)
        }
    }
}
