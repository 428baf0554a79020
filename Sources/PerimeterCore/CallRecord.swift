import Foundation

/// One row of the call log: who called what, how it went and what it cost. Never prompt or
/// completion text.
public struct CallRecord: Sendable, Hashable, Codable {
    /// The request id, also sent to the client as `x-perimeter-request-id`.
    public var id: String
    public var time: Date
    public var keyID: String?
    public var keyName: String?
    /// Which generation of the key's secret the caller presented (rotation raises it).
    public var keyGeneration: Int?
    public var env: String?
    public var owner: String?
    public var clientIP: String?
    public var provider: String?
    public var model: String?
    public var operation: CallOperation
    public var stream: Bool
    public var status: Int
    public var outcome: Outcome
    public var usage: Usage
    /// Where `usage` came from: the provider's own report, or, for a call that ended without it (the
    /// client left, the stream was cut), the gateway's estimate, which is never below what was relayed.
    /// `nil` for a call that never reached a provider.
    public var usageSource: UsageSource?
    /// `nil` when the model has no known price.
    public var cost: Money?
    public var latencyMS: Int
    public var errorCode: String?
    /// The caller's User-Agent, for alerts only: not stored in the call log.
    public var userAgent: String?

    public init(
        id: String, time: Date, keyID: String? = nil, keyName: String? = nil, env: String? = nil,
        owner: String? = nil, clientIP: String? = nil, provider: String? = nil, model: String? = nil,
        operation: CallOperation, stream: Bool = false, status: Int, outcome: Outcome, usage: Usage = .zero,
        cost: Money? = nil, latencyMS: Int = 0, errorCode: String? = nil
    ) {
        self.id = id
        self.time = time
        self.keyID = keyID
        self.keyName = keyName
        self.env = env
        self.owner = owner
        self.clientIP = clientIP
        self.provider = provider
        self.model = model
        self.operation = operation
        self.stream = stream
        self.status = status
        self.outcome = outcome
        self.usage = usage
        self.cost = cost
        self.latencyMS = latencyMS
        self.errorCode = errorCode
    }

    /// The call log's wire form: flat snake_case, time in RFC 3339, cost in dollars.
    enum CodingKeys: String, CodingKey {
        case id, time, keyID = "key_id", keyName = "key_name", keyGeneration = "key_generation", env, owner, clientIP = "client_ip",
            provider,
            model, operation, stream, status, outcome, inputTokens = "input_tokens",
            cachedInputTokens = "cached_input_tokens", cacheWriteTokens = "cache_write_tokens",
            outputTokens = "output_tokens", usageSource = "usage_source", cost = "cost_usd", latencyMS = "latency_ms",
            errorCode = "error_code"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        let timeText = try c.decode(String.self, forKey: .time)
        guard let parsed = Timestamp.parse(timeText) else {
            throw DecodingError.dataCorruptedError(forKey: .time, in: c, debugDescription: "not RFC 3339: \(timeText)")
        }
        time = parsed
        keyID = try c.decodeIfPresent(String.self, forKey: .keyID)
        keyName = try c.decodeIfPresent(String.self, forKey: .keyName)
        keyGeneration = try c.decodeIfPresent(Int.self, forKey: .keyGeneration)
        env = try c.decodeIfPresent(String.self, forKey: .env)
        owner = try c.decodeIfPresent(String.self, forKey: .owner)
        clientIP = try c.decodeIfPresent(String.self, forKey: .clientIP)
        provider = try c.decodeIfPresent(String.self, forKey: .provider)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        operation = try c.decode(CallOperation.self, forKey: .operation)
        stream = try c.decode(Bool.self, forKey: .stream)
        status = try c.decode(Int.self, forKey: .status)
        outcome = try c.decode(Outcome.self, forKey: .outcome)
        usage = Usage(
            inputTokens: try c.decode(Int.self, forKey: .inputTokens),
            cachedInputTokens: try c.decode(Int.self, forKey: .cachedInputTokens),
            cacheWriteTokens: try c.decodeIfPresent(Int.self, forKey: .cacheWriteTokens) ?? 0,
            outputTokens: try c.decode(Int.self, forKey: .outputTokens))
        usageSource = try c.decodeIfPresent(UsageSource.self, forKey: .usageSource)
        cost = try c.decodeIfPresent(Money.self, forKey: .cost)
        latencyMS = try c.decode(Int.self, forKey: .latencyMS)
        errorCode = try c.decodeIfPresent(String.self, forKey: .errorCode)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(Timestamp.format(time), forKey: .time)
        try c.encode(keyID, forKey: .keyID)
        try c.encode(keyName, forKey: .keyName)
        try c.encode(keyGeneration, forKey: .keyGeneration)
        try c.encode(env, forKey: .env)
        try c.encode(owner, forKey: .owner)
        try c.encode(clientIP, forKey: .clientIP)
        try c.encode(provider, forKey: .provider)
        try c.encode(model, forKey: .model)
        try c.encode(operation, forKey: .operation)
        try c.encode(stream, forKey: .stream)
        try c.encode(status, forKey: .status)
        try c.encode(outcome, forKey: .outcome)
        try c.encode(usage.inputTokens, forKey: .inputTokens)
        try c.encode(usage.cachedInputTokens, forKey: .cachedInputTokens)
        try c.encode(usage.cacheWriteTokens, forKey: .cacheWriteTokens)
        try c.encode(usage.outputTokens, forKey: .outputTokens)
        try c.encode(usageSource, forKey: .usageSource)
        try c.encode(cost, forKey: .cost)
        try c.encode(latencyMS, forKey: .latencyMS)
        try c.encode(errorCode, forKey: .errorCode)
    }
}
