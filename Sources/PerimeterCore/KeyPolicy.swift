import Foundation

/// Which tools a key's calls may declare.
public enum ToolPolicy: Sendable, Hashable {
    /// Any tools (the default).
    case allowed
    /// No tools or functions at all.
    case denied
    /// Only these function names.
    case only([String])
}

/// The limits a virtual key carries. Every field is optional; an empty list means no restriction.
public struct KeyPolicy: Sendable, Hashable {
    public var budget: Budget?
    public var requestsPerMinute: Int?
    public var tokensPerMinute: Int?
    public var allowedIPs: [CIDR] = []
    public var allowedModels: [ModelPattern] = []
    /// `nil`: every operation the gateway meters.
    public var allowedOperations: Set<CallOperation>?
    public var tools: ToolPolicy = .allowed
    public var expiresAt: Date?
    /// Names of the configured providers the key's calls may go to (a data-residency rule); empty: any.
    public var allowedProviders: [String] = []

    public init(
        budget: Budget? = nil, requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil, allowedIPs: [CIDR] = [],
        allowedModels: [ModelPattern] = [], allowedOperations: Set<CallOperation>? = nil, tools: ToolPolicy = .allowed,
        expiresAt: Date? = nil, allowedProviders: [String] = []
    ) {
        self.allowedProviders = allowedProviders
        self.budget = budget
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.allowedIPs = allowedIPs
        self.allowedModels = allowedModels
        self.allowedOperations = allowedOperations
        self.tools = tools
        self.expiresAt = expiresAt
    }

    public static let unrestricted = KeyPolicy()

    public var hasRateLimits: Bool { requestsPerMinute != nil || tokensPerMinute != nil }

    public func allowsModel(_ model: String) -> Bool {
        allowedModels.isEmpty || allowedModels.contains { $0.matches(model) }
    }

    public func allowsProvider(_ name: String) -> Bool {
        allowedProviders.isEmpty || allowedProviders.contains(name)
    }
}

/// What the policy needs to know about one call.
public struct CallFacts: Sendable, Hashable {
    public var operation: CallOperation
    public var model: String?
    public var clientIP: IPAddress?
    /// Declared tool or function names; built-in tools are named by their type.
    public var toolNames: [String]
    /// True when the request declares tools, functions or a tool choice.
    public var declaresTools: Bool

    public init(operation: CallOperation, model: String?, clientIP: IPAddress?, toolNames: [String] = [], declaresTools: Bool = false) {
        self.operation = operation
        self.model = model
        self.clientIP = clientIP
        self.toolNames = toolNames
        self.declaresTools = declaresTools || !toolNames.isEmpty
    }
}

/// The stateless part of the decision: expiry, source address, operation, model and tools. A pure
/// function of the key's policy, the call and the time. Budgets and rates are stateful and decided
/// by the ledger and the rate limiter.
public enum Policy {
    public static func evaluate(_ policy: KeyPolicy, call: CallFacts, now: Date) -> GatewayError? {
        if let expiry = policy.expiresAt, now >= expiry { return .keyExpired(expiry) }
        if !policy.allowedIPs.isEmpty {
            guard let ip = call.clientIP, policy.allowedIPs.contains(where: { $0.contains(ip) }) else {
                return .ipNotAllowed
            }
        }
        if let operations = policy.allowedOperations, !operations.contains(call.operation) {
            return .operationNotAllowed(call.operation)
        }
        if let model = call.model, !policy.allowsModel(model) { return .modelNotAllowed(model) }
        switch policy.tools {
        case .allowed:
            break
        case .denied:
            if call.declaresTools { return .toolsNotAllowed(call.toolNames.first) }
        case .only(let allowed):
            if let offending = call.toolNames.first(where: { !allowed.contains($0) }) { return .toolsNotAllowed(offending) }
        }
        return nil
    }
}
