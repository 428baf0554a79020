import Foundation
import PerimeterCore

/// A change to a key's limits, as `PATCH /admin/v1/keys/{id}` takes it: a field that is present sets
/// that limit, a field that is `null` removes it, an absent field is left alone.
public struct KeyPolicyPatch: Sendable, Decodable {
    enum Change<Value: Sendable>: Sendable {
        case keep
        case clear
        case set(Value)

        func apply(to value: inout Value?) {
            switch self {
            case .keep: break
            case .clear: value = nil
            case .set(let new): value = new
            }
        }
    }

    var budget: Change<Budget> = .keep
    var rpm: Change<Int> = .keep
    var tpm: Change<Int> = .keep
    var allowedIPs: Change<[CIDR]> = .keep
    var models: Change<[String]> = .keep
    var operations: Change<[CallOperation]> = .keep
    var tools: Change<ToolPolicy> = .keep
    var expiresAt: Change<String> = .keep
    var providers: Change<[String]> = .keep

    public init(from decoder: any Decoder) throws {
        try decoder.refuseUnknownKeys(of: KeyPolicy.CodingKeys.self)
        let c = try decoder.container(keyedBy: KeyPolicy.CodingKeys.self)
        func change<Value: Decodable>(_ key: KeyPolicy.CodingKeys, _ type: Value.Type) throws -> Change<Value> {
            guard c.contains(key) else { return .keep }
            if try c.decodeNil(forKey: key) { return .clear }
            return .set(try c.decode(Value.self, forKey: key))
        }
        func wholeNumber(_ key: KeyPolicy.CodingKeys) throws -> Change<Int> {
            guard c.contains(key) else { return .keep }
            if try c.decodeNil(forKey: key) { return .clear }
            return .set(try c.decodeWholeNumber(forKey: key))
        }
        budget = try change(.budget, Budget.self)
        rpm = try wholeNumber(.rpm)
        tpm = try wholeNumber(.tpm)
        allowedIPs = try change(.allowedIPs, [CIDR].self)
        models = try change(.models, [String].self)
        operations = try change(.operations, [CallOperation].self)
        tools = try change(.tools, ToolPolicy.self)
        expiresAt = try change(.expiresAt, String.self)
        providers = try change(.providers, [String].self)
    }

    /// `policy` with this change applied, or the first problem, naming its field.
    package func applied(to policy: KeyPolicy) throws(GatewayError) -> KeyPolicy {
        var result = policy
        budget.apply(to: &result.budget)
        rpm.apply(to: &result.requestsPerMinute)
        tpm.apply(to: &result.tokensPerMinute)
        var ips: [CIDR]? = result.allowedIPs
        allowedIPs.apply(to: &ips)
        result.allowedIPs = ips ?? []
        var patterns: [String]? = result.allowedModels.map(\.description)
        models.apply(to: &patterns)
        result.allowedModels = (patterns ?? []).map(ModelPattern.init)
        var operationList: [CallOperation]? = result.allowedOperations.map { Array($0) }
        operations.apply(to: &operationList)
        result.allowedOperations = operationList.map(Set.init)
        var toolPolicy: ToolPolicy? = result.tools
        tools.apply(to: &toolPolicy)
        result.tools = toolPolicy ?? .allowed
        var providerNames: [String]? = result.allowedProviders
        providers.apply(to: &providerNames)
        result.allowedProviders = providerNames ?? []
        switch expiresAt {
        case .keep: break
        case .clear: result.expiresAt = nil
        case .set(let text):
            guard let date = Timestamp.parse(text) else {
                throw .invalidRequest("limits.expires_at: '\(text)' is not an RFC 3339 time such as 2026-12-31T00:00:00Z.")
            }
            result.expiresAt = date
        }
        try KeyPolicyValidation.validate(result)
        return result
    }
}

/// Bounds on limits, so a typo cannot create a key that is effectively unlimited or unusable.
package enum KeyPolicyValidation {
    package static let budgetUSD: ClosedRange<Double> = 0...1_000_000_000
    package static let requestsPerMinute = 1...10_000_000
    package static let tokensPerMinute = 1...10_000_000_000
    package static func validate(_ policy: KeyPolicy) throws(GatewayError) {
        if let budget = policy.budget, !budgetUSD.contains(budget.limit.usd) {
            throw .invalidRequest("limits.budget.usd must be from 0 to 1000000000 US dollars.")
        }
        if let rpm = policy.requestsPerMinute, !requestsPerMinute.contains(rpm) {
            throw .invalidRequest("limits.rpm must be a whole number from 1 to 10000000.")
        }
        if let tpm = policy.tokensPerMinute, !tokensPerMinute.contains(tpm) {
            throw .invalidRequest("limits.tpm must be a whole number from 1 to 10000000000.")
        }
        for pattern in policy.allowedModels where !isValidPattern(pattern.description) {
            throw .invalidRequest(
                "limits.models: '\(pattern)' is not a model pattern; use 1 to 200 ASCII letters, digits, '.', '-', '_', ':', '/', '@' and '*'."
            )
        }
        for network in policy.allowedIPs where !AdminContract.cidr.matches(network.description) {
            throw .invalidRequest(
                "limits.allowed_ips: '\(network)' is not an IPv4 or IPv6 address or CIDR in its usual form, such as 10.0.0.0/8 or 2001:db8::/32."
            )
        }
        if let operations = policy.allowedOperations, operations.isEmpty {
            throw .invalidRequest("limits.operations must name at least one operation, or be null for all.")
        }
        for name in policy.allowedProviders where !isValidProviderName(name) {
            throw .invalidRequest(
                "limits.providers: '\(name)' is not a provider name; use 1 to 64 letters, digits, '-' and '_', starting with a letter or digit, as in the configuration's providers."
            )
        }
        if case .only(let names) = policy.tools, names.isEmpty || names.contains(where: \.isEmpty) {
            throw .invalidRequest("limits.tools must be allow, deny, or a list of tool names.")
        }
    }

    package static func isValidProviderName(_ text: String) -> Bool {
        AdminContract.providerName.matches(text)
    }

    package static func isValidPattern(_ text: String) -> Bool {
        AdminContract.modelPattern.matches(text)
    }
}
