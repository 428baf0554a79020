import Foundation
import PerimeterCore
import PerimeterSecrets

/// OpenAI's Administration API with an admin key (`sk-admin-...`, `Authorization: Bearer`):
/// `GET /organization/projects`, each project's `GET .../api_keys?owner_project_access=any` (every
/// enabled key, not only those the key's owner may see), `GET /organization/admin_api_keys`, usage from
/// `GET /organization/usage/completions` and `/usage/embeddings` (`bucket_width=1h`,
/// `group_by[]=api_key_id`), and `DELETE .../api_keys/{id}`. Lists page with `after` = the last
/// id while `has_more`; usage pages with `page` = `next_page`. (OpenAI's openapi.yaml.)
public struct OpenAIAdminAPI: ProviderAdminAPI {
    let provider: String
    let http: AdminHTTP

    /// `baseURL` is the API root with its version, as a provider's `base_url` is (`https://api.openai.com/v1`).
    public init(
        provider: String, baseURL: String, adminKey: @escaping @Sendable () async throws -> Secret, transport: any SecretHTTPTransport
    ) {
        self.provider = provider
        http = AdminHTTP(transport: transport, baseURL: baseURL) {
            [(name: "authorization", value: "Bearer " + (try await adminKey()).revealed)]
        }
    }

    public func listKeys() async throws -> [ProviderKey] {
        var keys: [ProviderKey] = []
        for project in try await list("/organization/projects", query: [("include_archived", "false")]) {
            let projectID = try Field.id(project, in: "/organization/projects")
            let path = "/organization/projects/\(AdminHTTP.encode(projectID))/api_keys"
            for key in try await list(path, query: [("owner_project_access", "any")]) {
                let id = try Field.id(key, in: path)
                let owner = key["owner"] as? [String: Any]
                let isService = Field.string(owner ?? [:], "type") == "service_account"
                let holder = (owner?[isService ? "service_account" : "user"] as? [String: Any]) ?? [:]
                keys.append(
                    ProviderKey(
                        provider: provider, id: id, kind: isService ? "service_account_key" : "api_key", name: Field.string(key, "name"),
                        hint: Field.string(key, "redacted_value"),
                        owner: Field.string(holder, "email") ?? Field.string(holder, "name"), scope: projectID,
                        scopeName: Field.string(project, "name"),
                        // Listed with owner_project_access=any, every key here is enabled; "inactive" access
                        // means its owner left the project, and the key still authenticates: still a live key.
                        status: "active",
                        createdAt: Field.date(seconds: key, "created_at"), lastUsedAt: Field.date(seconds: key, "last_used_at"),
                        reportsLastUse: true))
            }
        }
        for key in try await list("/organization/admin_api_keys") {
            // This list has been seen to carry project keys too: only admin keys count here.
            guard let id = Field.string(key, "id"), Field.string(key, "object") == "organization.admin_api_key" else { continue }
            let owner = (key["owner"] as? [String: Any]) ?? [:]
            let expires = Field.date(seconds: key, "expires_at")
            keys.append(
                ProviderKey(
                    provider: provider, id: id, kind: "admin_key", name: Field.string(key, "name"),
                    hint: Field.string(key, "redacted_value"),
                    owner: Field.string(owner, "name"), scope: "organization",
                    status: expires.map { $0 <= Date() } == true ? "expired" : "active",
                    createdAt: Field.date(seconds: key, "created_at"), lastUsedAt: Field.date(seconds: key, "last_used_at"),
                    reportsLastUse: true))
        }
        return keys
    }

    public func usage(from start: Date, to end: Date) async throws -> [ProviderUsageBucket] {
        var buckets: [ProviderUsageBucket] = []
        for kind in ["completions", "embeddings"] {
            var page: String?
            for _ in 0..<AdminHTTP.maxPages {
                var query = [
                    ("start_time", String(Int(start.timeIntervalSince1970))), ("end_time", String(Int(end.timeIntervalSince1970))),
                    // Six hourly buckets a page keeps each answer well under the transport's 1 MiB,
                    // however many keys an organization uses in an hour.
                    ("bucket_width", "1h"), ("group_by[]", "api_key_id"), ("limit", "6"),
                ]
                if let page { query.append(("page", page)) }
                let path = "/organization/usage/\(kind)"
                let answer = try await http.json("GET", path, query: query)
                for bucket in try Field.objects(answer, "data", in: path) {
                    guard let from = Field.date(seconds: bucket, "start_time"), let to = Field.date(seconds: bucket, "end_time") else {
                        continue
                    }
                    for result in try Field.objects(bucket, "results", in: path) {
                        buckets.append(
                            ProviderUsageBucket(
                                start: from, end: to, keyID: Field.string(result, "api_key_id"),
                                inputTokens: Field.int(result, "input_tokens") ?? 0, outputTokens: Field.int(result, "output_tokens") ?? 0,
                                requests: Field.int(result, "num_model_requests")))
                    }
                }
                guard answer["has_more"] as? Bool == true, let next = Field.string(answer, "next_page") else { break }
                page = next
            }
        }
        return buckets
    }

    public func disable(_ key: ProviderKey) async throws {
        // OpenAI refuses to delete a service account's key alone, and admin keys are another API.
        guard key.kind == "api_key" else {
            throw ProviderAdminError.failed(
                "OpenAI deletes only users' project keys through this API; remove this \(key.kind) in OpenAI's dashboard")
        }
        guard let project = key.scope else { throw ProviderAdminError.failed("key \(key.id) has no project") }
        let path = "/organization/projects/\(AdminHTTP.encode(project))/api_keys/\(AdminHTTP.encode(key.id))"
        let answer = try await http.json("DELETE", path)
        guard answer["deleted"] as? Bool == true else { throw ProviderAdminError.failed("OpenAI did not confirm deleting \(key.id)") }
    }

    /// Every element of a cursor-paged list (`after` = `last_id` while `has_more`).
    private func list(_ path: String, query: [(String, String)] = []) async throws -> [[String: Any]] {
        var items: [[String: Any]] = []
        var after: String?
        for _ in 0..<AdminHTTP.maxPages {
            var pageQuery = query + [("limit", "100")]
            if let after { pageQuery.append(("after", after)) }
            let answer = try await http.json("GET", path, query: pageQuery)
            items += try Field.objects(answer, "data", in: path)
            guard answer["has_more"] as? Bool == true, let last = Field.string(answer, "last_id"), last != after else { break }
            after = last
        }
        return items
    }
}
