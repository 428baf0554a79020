import Foundation

/// A key as the provider itself lists it (OpenAI's project API keys and admin keys, Anthropic's API
/// keys): never its value, only the provider's id, name and redacted hint.
public struct ProviderKey: Codable, Sendable, Hashable {
    /// The configured provider whose admin credential listed it (`openai`, `anthropic-prod`).
    public var provider: String
    /// The provider's id for the key (`key_abc`, `apikey_01...`).
    public var id: String
    /// `api_key`, `service_account_key` or `admin_key`.
    public var kind: String
    public var name: String?
    /// The provider's redacted form (`sk-proj-...dEfg`, `sk-ant-api03-R2D...igAA`).
    public var hint: String?
    /// Who holds it: a user's email or name, a service account's name.
    public var owner: String?
    /// The project (OpenAI) or workspace (Anthropic) it belongs to, and that one's name.
    public var scope: String?
    public var scopeName: String?
    /// `active`, `inactive`, `archived` or `expired` as the provider says.
    public var status: String
    public var createdAt: Date?
    public var lastUsedAt: Date?
    /// Whether the provider reports last use at all (OpenAI does; Anthropic's key list does not), so a
    /// missing `lastUsedAt` means never used.
    public var reportsLastUse: Bool

    public init(
        provider: String, id: String, kind: String, name: String? = nil, hint: String? = nil, owner: String? = nil,
        scope: String? = nil, scopeName: String? = nil, status: String = "active", createdAt: Date? = nil, lastUsedAt: Date? = nil,
        reportsLastUse: Bool = false
    ) {
        self.provider = provider
        self.id = id
        self.kind = kind
        self.name = name
        self.hint = hint
        self.owner = owner
        self.scope = scope
        self.scopeName = scopeName
        self.status = status
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.reportsLastUse = reportsLastUse
    }

    enum CodingKeys: String, CodingKey {
        case provider, id, kind, name, hint, owner, scope, scopeName = "scope_name", status, createdAt = "created_at",
            lastUsedAt = "last_used_at", reportsLastUse = "reports_last_use"
    }
}

/// Whether a secret the gateway holds is the key a provider's redacted hint shows, decided locally:
/// the secret never leaves the gateway. A hint is a visible start and end around an ellipsis
/// (Anthropic's `sk-ant-api03-R2D...igAA`) or a run of `*` as long as what it hides (OpenAI's
/// `sk-proj-****...****excA`, whose length must then equal the secret's). Both ends must show, and at
/// least four characters beyond the vendor's fixed prefix (`sk-proj-`), so `sk-...` matches nothing.
public enum ProviderKeyHint {
    static let fixedPrefixes = ["sk-ant-admin01-", "sk-ant-api03-", "sk-admin-", "sk-proj-", "sk-svcacct-", "sk-"]

    public static func matches(hint: String, secret: Secret) -> Bool {
        guard let parts = parts(of: hint) else { return false }
        // What of the visible start is the vendor's fixed prefix (OpenAI shows `sk-svcac` of `sk-svcacct-`).
        let fixed =
            fixedPrefixes.map { fixed in
                parts.prefix.hasPrefix(fixed) ? fixed.count : (fixed.hasPrefix(parts.prefix) ? parts.prefix.count : 0)
            }.max() ?? 0
        guard parts.prefix.count - fixed + parts.suffix.count >= 4 else { return false }
        let value = secret.revealed
        if let length = parts.length, value.count != length { return false }
        return value.count >= parts.prefix.count + parts.suffix.count && value.hasPrefix(parts.prefix) && value.hasSuffix(parts.suffix)
    }

    /// The visible start and end of `hint`, and the key's length when the hint keeps it; nil when it
    /// has no separator or shows nothing at one end.
    static func parts(of hint: String) -> (prefix: String, suffix: String, length: Int?)? {
        for separator in ["...", "…"] {
            guard let range = hint.range(of: separator) else { continue }
            let prefix = String(hint[..<range.lowerBound])
            let suffix = String(hint[range.upperBound...])
            guard !prefix.isEmpty, !suffix.isEmpty, !suffix.contains("*") else { return nil }
            return (prefix, suffix, nil)
        }
        guard let first = hint.firstIndex(of: "*"), let last = hint.lastIndex(of: "*"), hint.distance(from: first, to: last) >= 1,
            hint[first...last].allSatisfy({ $0 == "*" })
        else { return nil }
        let prefix = String(hint[..<first])
        let suffix = String(hint[hint.index(after: last)...])
        guard !prefix.isEmpty, !suffix.isEmpty else { return nil }
        return (prefix, suffix, hint.count)
    }
}

/// A provider key as the inventory shows it: whether the gateway holds it, and what is wrong with it.
public struct ProviderKeyAssessment: Codable, Sendable, Hashable {
    public var key: ProviderKey
    /// The secret reference of the credential the gateway holds that this key is, if any.
    public var heldAs: String?
    public var ageDays: Int?
    public var flags: [String]

    enum CodingKeys: String, CodingKey {
        case key, heldAs = "held_as", ageDays = "age_days", flags
    }

    /// Flags: `unmanaged` (a live key the gateway does not hold: someone's script or laptop),
    /// `unused_90d` (no use in 90 days, where the provider reports use: never used counts from creation),
    /// `over_max_age` (older than `maxAge`).
    /// `heldKnown` false: some credential the gateway holds could not be read, so an unmatched key is
    /// `unverified` (it may be that one), never `unmanaged`.
    public static func assess(
        _ key: ProviderKey, heldAs: String?, maxAge: Duration?, now: Date, heldKnown: Bool = true
    ) -> ProviderKeyAssessment {
        let day = 86400.0
        var flags: [String] = []
        let live = key.status == "active"
        if live, heldAs == nil { flags.append(heldKnown ? "unmanaged" : "unverified") }
        if live, let created = key.createdAt {
            if key.reportsLastUse, now.timeIntervalSince(key.lastUsedAt ?? created) >= 90 * day { flags.append("unused_90d") }
            if let maxAge, now.timeIntervalSince(created) >= Double(maxAge.components.seconds) { flags.append("over_max_age") }
        }
        let age = key.createdAt.map { max(0, Int(now.timeIntervalSince($0) / day)) }
        return ProviderKeyAssessment(key: key, heldAs: heldAs, ageDays: age, flags: flags)
    }
}

/// One hour (or other bucket) of a provider's own usage report, for one key or project where the
/// provider breaks it down that way.
public struct ProviderUsageBucket: Sendable, Hashable, Codable {
    public var start: Date
    public var end: Date
    /// The provider's key id, when the report is grouped by key.
    public var keyID: String?
    public var inputTokens: Int
    public var outputTokens: Int
    public var requests: Int?

    public init(start: Date, end: Date, keyID: String?, inputTokens: Int, outputTokens: Int, requests: Int? = nil) {
        self.start = start
        self.end = end
        self.keyID = keyID
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.requests = requests
    }

    public var tokens: Int { inputTokens.addingReportingOverflow(outputTokens).partialValue }
}

/// What the provider reported beyond the gateway's own log for the credential the gateway holds.
public struct ShadowUsage: Sendable, Hashable {
    public var bucket: ProviderUsageBucket
    public var loggedTokens: Int

    public var excessTokens: Int { bucket.tokens - loggedTokens }

    /// Slack for rounding, calls that straddle a bucket's edge and the gateway's own write delay: the
    /// provider may report this many tokens more than the log holds before it counts.
    public static func tolerance(logged: Int) -> Int { max(1_000, logged / 50) }

    /// The buckets of `keyID` in which the provider reports more tokens than `logged` (the gateway's
    /// tokens for that credential in the bucket's time, by bucket start) beyond ``tolerance(logged:)``.
    /// A key's buckets of the same hour (OpenAI reports completions and embeddings apart) count as one.
    public static func find(buckets: [ProviderUsageBucket], keyID: String, logged: [Date: Int]) -> [ShadowUsage] {
        var hours: [Date: ProviderUsageBucket] = [:]
        for bucket in buckets where bucket.keyID == keyID {
            if var sum = hours[bucket.start] {
                sum.inputTokens = sum.inputTokens.addingReportingOverflow(bucket.inputTokens).partialValue
                sum.outputTokens = sum.outputTokens.addingReportingOverflow(bucket.outputTokens).partialValue
                hours[bucket.start] = sum
            } else {
                hours[bucket.start] = bucket
            }
        }
        return hours.values.sorted { $0.start < $1.start }.compactMap { bucket in
            let ours = logged[bucket.start] ?? 0
            return bucket.tokens > ours + tolerance(logged: ours) ? ShadowUsage(bucket: bucket, loggedTokens: ours) : nil
        }
    }
}
