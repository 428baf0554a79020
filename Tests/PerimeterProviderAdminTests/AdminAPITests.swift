import Foundation
import PerimeterCore
import PerimeterSecrets
import Synchronization
import Testing

@testable import PerimeterProviderAdmin

/// A transport answering from a handler, recording every request: the vendors' documented shapes
/// (OpenAI's openapi.yaml, Anthropic's Admin API reference) are written out in each test.
final class ScriptedTransport: SecretHTTPTransport, Sendable {
    let handler: @Sendable (SecretHTTPRequest) -> (Int, Any)
    let requests = Mutex<[SecretHTTPRequest]>([])

    init(_ handler: @escaping @Sendable (SecretHTTPRequest) -> (Int, Any)) { self.handler = handler }

    func send(_ request: SecretHTTPRequest) async throws -> SecretHTTPResponse {
        requests.withLock { $0.append(request) }
        let (status, body) = handler(request)
        return SecretHTTPResponse(status: status, body: Array(try JSONSerialization.data(withJSONObject: body)))
    }

    var sent: [SecretHTTPRequest] { requests.withLock { $0 } }
}

extension SecretHTTPRequest {
    var path: String { url.path }
    func query(_ name: String) -> String? {
        URLComponents(url: url, resolvingAgainstBaseURL: false)?.queryItems?.first { $0.name == name }?.value
    }
}

@Suite struct AdminAPITests {
    static let admin: @Sendable () async throws -> Secret = { Secret("sk-admin-test") }

    /// OpenAI's list envelope: `{"object": "list", "data", "first_id", "last_id", "has_more"}`.
    static func list(_ data: [[String: Any]], last: String, more: Bool) -> [String: Any] {
        ["object": "list", "data": data, "first_id": data.first?["id"] ?? NSNull(), "last_id": last, "has_more": more]
    }

    @Test func openAIListsEveryProjectsKeysAndTheAdminKeysAcrossPages() async throws {
        let transport = ScriptedTransport { request in
            switch (request.path, request.query("after")) {
            case ("/v1/organization/projects", nil):
                return (
                    200,
                    Self.list(
                        [["id": "proj_a", "object": "organization.project", "name": "Alpha", "created_at": 1, "status": "active"]],
                        last: "proj_a", more: true)
                )
            case ("/v1/organization/projects", "proj_a"):
                return (
                    200,
                    Self.list(
                        [["id": "proj_b", "object": "organization.project", "name": "Beta", "created_at": 2]], last: "proj_b", more: false)
                )
            case ("/v1/organization/projects/proj_a/api_keys", _):
                return (
                    200,
                    Self.list(
                        [
                            [
                                "object": "organization.project.api_key", "redacted_value": "sk-proj-****abcd", "name": "ci",
                                "created_at": 1_711_471_533,
                                "last_used_at": NSNull(), "id": "key_a1", "owner_project_access": "active",
                                "owner": [
                                    "type": "user",
                                    "user": ["id": "user_1", "name": "Ann", "email": "ann@example.com", "role": "owner", "created_at": 1],
                                ],
                            ]
                        ], last: "key_a1", more: false)
                )
            case ("/v1/organization/projects/proj_b/api_keys", _):
                return (
                    200,
                    Self.list(
                        [
                            [
                                "object": "organization.project.api_key", "redacted_value": "sk-svcac****wxyz", "name": "bot",
                                "created_at": 1_711_471_534,
                                "last_used_at": 1_711_471_600, "id": "key_b1", "owner_project_access": "inactive",
                                "owner": [
                                    "type": "service_account",
                                    "service_account": ["id": "svc_1", "name": "deploy-bot", "role": "member", "created_at": 1],
                                ],
                            ]
                        ], last: "key_b1", more: false)
                )
            case ("/v1/organization/admin_api_keys", _):
                return (
                    200,
                    Self.list(
                        [
                            [
                                "object": "organization.admin_api_key", "id": "key_adm", "name": "Main",
                                "redacted_value": "sk-admin...test", "created_at": 1, "expires_at": NSNull(), "last_used_at": 2,
                                "owner": [
                                    "type": "user", "object": "organization.user", "id": "user_1", "name": "Ann", "created_at": 1,
                                    "role": "owner",
                                ],
                            ],
                            // Seen in the wild: a project key in this list. Not an admin key.
                            [
                                "object": "organization.project.api_key", "id": "key_a1", "redacted_value": "x", "created_at": 1,
                                "expires_at": NSNull(), "owner": [:],
                            ],
                        ], last: "key_a1", more: false)
                )
            default:
                return (404, ["error": ["message": "no route", "type": "invalid_request_error", "param": NSNull(), "code": NSNull()]])
            }
        }
        let api = OpenAIAdminAPI(provider: "openai", baseURL: "http://double/v1", adminKey: Self.admin, transport: transport)
        let keys = try await api.listKeys()
        #expect(keys.map(\.id) == ["key_a1", "key_b1", "key_adm"])
        #expect(
            keys[0].owner == "ann@example.com" && keys[0].scope == "proj_a" && keys[0].scopeName == "Alpha" && keys[0].lastUsedAt == nil)
        #expect(keys[1].kind == "service_account_key" && keys[1].owner == "deploy-bot" && keys[1].status == "active")
        #expect(keys[2].kind == "admin_key" && keys[2].hint == "sk-admin...test")
        #expect(transport.sent.allSatisfy { $0.header("authorization") == "Bearer sk-admin-test" })
        #expect(transport.sent.filter { $0.path.hasSuffix("/api_keys") }.allSatisfy { $0.query("owner_project_access") == "any" })
    }

    @Test func openAIUsageFollowsNextPageAndReadsEachKeysBuckets() async throws {
        let transport = ScriptedTransport { request in
            let page = request.query("page")
            let isCompletions = request.path == "/v1/organization/usage/completions"
            let result: [String: Any] = [
                "object": isCompletions ? "organization.usage.completions.result" : "organization.usage.embeddings.result",
                "input_tokens": page == nil ? 5000 : 7, "output_tokens": 1000, "num_model_requests": 5, "api_key_id": "key_a1",
                "project_id": NSNull(), "user_id": NSNull(), "model": NSNull(),
            ]
            let bucket: [String: Any] = ["object": "bucket", "start_time": 1_730_419_200, "end_time": 1_730_422_800, "results": [result]]
            let more = isCompletions && page == nil
            return (200, ["object": "page", "data": [bucket], "has_more": more, "next_page": more ? "page_AAAA" : NSNull()])
        }
        let api = OpenAIAdminAPI(provider: "openai", baseURL: "http://double/v1", adminKey: Self.admin, transport: transport)
        let buckets = try await api.usage(from: Date(timeIntervalSince1970: 1_730_419_200), to: Date(timeIntervalSince1970: 1_730_505_600))
        #expect(buckets.map(\.inputTokens) == [5000, 7, 5000])
        #expect(buckets.allSatisfy { $0.keyID == "key_a1" && $0.end.timeIntervalSince($0.start) == 3600 })
        let first = try #require(transport.sent.first)
        #expect(
            first.query("bucket_width") == "1h" && first.query("group_by[]") == "api_key_id" && first.query("start_time") == "1730419200")
        #expect(transport.sent[1].query("page") == "page_AAAA")
    }

    @Test func anthropicListsKeysByAfterIDAndDeactivatesByStatus() async throws {
        let transport = ScriptedTransport { request in
            if request.method == "POST" {
                let body = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any]
                return (200, ["id": "apikey_02", "type": "api_key", "name": "laptop", "status": body?["status"] ?? "active"])
            }
            if request.query("after_id") == nil {
                return (
                    200,
                    [
                        "data": [
                            [
                                "id": "apikey_01", "type": "api_key", "name": "Developer Key", "workspace_id": "wrkspc_01",
                                "created_at": "2024-10-30T23:58:27.427722Z", "created_by": ["id": "user_01", "type": "user"],
                                "partial_key_hint": "sk-ant-api03-R2D...igAA", "status": "active",
                            ]
                        ], "has_more": true, "first_id": "apikey_01", "last_id": "apikey_01",
                    ]
                )
            }
            return (
                200,
                [
                    "data": [
                        [
                            "id": "apikey_02", "type": "api_key", "name": "laptop", "created_at": "2025-01-01T00:00:00Z",
                            "created_by": NSNull(),
                            "partial_key_hint": "sk-ant-api03-XyZ...0000", "status": "active",
                            "scope": ["type": "workspace", "workspace_id": "wrkspc_02"],
                        ]
                    ], "has_more": false, "first_id": "apikey_02", "last_id": "apikey_02",
                ]
            )
        }
        let api = AnthropicAdminAPI(provider: "anthropic", baseURL: "http://double", adminKey: Self.admin, transport: transport)
        let keys = try await api.listKeys()
        #expect(keys.map(\.id) == ["apikey_01", "apikey_02"] && keys.map(\.scope) == ["wrkspc_01", "wrkspc_02"])
        #expect(keys[0].owner == "user_01" && keys[0].createdAt != nil && !keys[0].reportsLastUse)
        #expect(transport.sent[1].query("after_id") == "apikey_01")
        #expect(transport.sent.allSatisfy { $0.header("x-api-key") == "sk-admin-test" && $0.header("anthropic-version") == "2023-06-01" })
        try await api.disable(keys[1])
        let post = try #require(transport.sent.last)
        #expect(post.method == "POST" && post.path == "/v1/organizations/api_keys/apikey_02")
        #expect(String(decoding: post.body, as: UTF8.self) == #"{"status":"inactive"}"#)
    }

    @Test func aRefusedAdminKeyIsRefusedNotMalformed() async throws {
        let transport = ScriptedTransport { _ in
            (401, ["type": "error", "error": ["type": "authentication_error", "message": "invalid x-api-key"]])
        }
        let api = AnthropicAdminAPI(provider: "anthropic", baseURL: "http://double", adminKey: Self.admin, transport: transport)
        await #expect(throws: ProviderAdminError.refused(status: 401, message: "invalid x-api-key")) { try await api.listKeys() }
        let broken = ScriptedTransport { _ in (200, ["unexpected": true]) }
        let other = OpenAIAdminAPI(provider: "openai", baseURL: "http://double/v1", adminKey: Self.admin, transport: broken)
        await #expect(throws: ProviderAdminError.self) { try await other.listKeys() }
    }

    @Test func aCursorThatNeverEndsStopsAfterTheLimit() async throws {
        let transport = ScriptedTransport { _ in (200, ["data": [], "has_more": true, "first_id": "x", "last_id": "x"]) }
        let api = AnthropicAdminAPI(provider: "anthropic", baseURL: "http://double", adminKey: Self.admin, transport: transport)
        #expect(try await api.listKeys().isEmpty)
        #expect(transport.sent.count == 2, "the same cursor twice ends the listing")
    }
}
