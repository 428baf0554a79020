import Foundation
import PerimeterCore
import PerimeterSecrets

/// Anthropic's Admin API with an admin key (`sk-ant-admin01-...`, `x-api-key` and `anthropic-version`):
/// `GET /v1/organizations/api_keys` (`after_id` = `last_id` while `has_more`), usage from
/// `GET /v1/organizations/usage_report/messages` (`bucket_width=1h`, `group_by[]=api_key_id`, `page` =
/// `next_page`), and `POST /v1/organizations/api_keys/{id}` with `{"status": "inactive"}` to
/// deactivate a key (there is no delete). Times are RFC 3339. (Anthropic's Admin API reference.)
public struct AnthropicAdminAPI: ProviderAdminAPI {
    let provider: String
    let http: AdminHTTP

    /// `baseURL` is the API root as a provider's `base_url` is (`https://api.anthropic.com`).
    public init(
        provider: String, baseURL: String, adminKey: @escaping @Sendable () async throws -> Secret, transport: any SecretHTTPTransport
    ) {
        self.provider = provider
        http = AdminHTTP(transport: transport, baseURL: baseURL) {
            [(name: "x-api-key", value: (try await adminKey()).revealed), (name: "anthropic-version", value: "2023-06-01")]
        }
    }

    public func listKeys() async throws -> [ProviderKey] {
        let path = "/v1/organizations/api_keys"
        var keys: [ProviderKey] = []
        var after: String?
        for _ in 0..<AdminHTTP.maxPages {
            var query = [("limit", "100")]
            if let after { query.append(("after_id", after)) }
            let answer = try await http.json("GET", path, query: query)
            for key in try Field.objects(answer, "data", in: path) {
                let id = try Field.id(key, in: path)
                // Newer answers carry the workspace in `scope`; the default workspace is null in older ones.
                let scope = key["scope"] as? [String: Any]
                let workspace = Field.string(key, "workspace_id") ?? scope.flatMap { Field.string($0, "workspace_id") }
                let creator = key["created_by"] as? [String: Any]
                keys.append(
                    ProviderKey(
                        provider: provider, id: id, kind: "api_key", name: Field.string(key, "name"),
                        hint: Field.string(key, "partial_key_hint"),
                        owner: creator.flatMap { Field.string($0, "id") }, scope: workspace ?? "default",
                        status: Field.string(key, "status") ?? "active", createdAt: Field.date(rfc3339: key, "created_at")))
            }
            guard answer["has_more"] as? Bool == true, let last = Field.string(answer, "last_id"), last != after else { break }
            after = last
        }
        return keys
    }

    public func usage(from start: Date, to end: Date) async throws -> [ProviderUsageBucket] {
        let path = "/v1/organizations/usage_report/messages"
        var buckets: [ProviderUsageBucket] = []
        var page: String?
        for _ in 0..<AdminHTTP.maxPages {
            var query = [
                ("starting_at", Timestamp.format(start)), ("ending_at", Timestamp.format(end)), ("bucket_width", "1h"),
                ("group_by[]", "api_key_id"), ("limit", "6"),
            ]
            if let page { query.append(("page", page)) }
            let answer = try await http.json("GET", path, query: query)
            for bucket in try Field.objects(answer, "data", in: path) {
                guard let from = Field.date(rfc3339: bucket, "starting_at"), let to = Field.date(rfc3339: bucket, "ending_at") else {
                    continue
                }
                for result in try Field.objects(bucket, "results", in: path) {
                    let creation = (result["cache_creation"] as? [String: Any]) ?? [:]
                    let input = [
                        Field.int(result, "uncached_input_tokens"), Field.int(result, "cache_read_input_tokens"),
                        Field.int(creation, "ephemeral_5m_input_tokens"), Field.int(creation, "ephemeral_1h_input_tokens"),
                    ].reduce(0) { $0 + ($1 ?? 0) }
                    buckets.append(
                        ProviderUsageBucket(
                            start: from, end: to, keyID: Field.string(result, "api_key_id"), inputTokens: input,
                            outputTokens: Field.int(result, "output_tokens") ?? 0))
                }
            }
            guard answer["has_more"] as? Bool == true, let next = Field.string(answer, "next_page") else { break }
            page = next
        }
        return buckets
    }

    public func disable(_ key: ProviderKey) async throws {
        let answer = try await http.json("POST", "/v1/organizations/api_keys/\(AdminHTTP.encode(key.id))", body: ["status": "inactive"])
        guard Field.string(answer, "status") == "inactive" else {
            throw ProviderAdminError.failed("Anthropic did not confirm deactivating \(key.id)")
        }
    }
}
