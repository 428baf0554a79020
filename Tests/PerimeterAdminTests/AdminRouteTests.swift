import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PerimeterGateway
import PerimeterGatewayTesting
import Testing

@testable import PerimeterAdmin

@Suite struct AdminRouteTests {
    /// Every route the router serves under `/admin/v1`, the OpenAPI document aside, as (method, path
    /// with a sample value for each parameter).
    static func adminRoutes(_ gateway: Gateway) -> [(HTTPRequest.Method, String)] {
        gateway.routes.compactMap { route in
            let parts = route.split(separator: " ", maxSplits: 1).map(String.init)
            guard parts.count == 2, parts[1].hasPrefix("/admin/v1/"), parts[1] != "/admin/v1/openapi.json" else { return nil }
            // The console's sign-in takes the token in its body (ConsoleSessionTests).
            guard route != "POST /admin/v1/session" else { return nil }
            return (HTTPRequest.Method(parts[0])!, parts[1].replacing(/\{\w+\}/, with: "x_1"))
        }
    }

    @Test func everyAdminRouteNeedsTheToken() async throws {
        let gateway = try await TestGateway.build(demo: true)
        let routes = Self.adminRoutes(gateway)
        // 22 today; theOpenAPIDocumentIsValidJSONAndCoversTheRoutes keeps this list equal to the document.
        #expect(routes.count >= 22, "\(routes)")
        try await gateway.application.test(.router) { client in
            for (method, uri) in routes {
                for headers: HTTPFields in [[:], [.authorization: "Bearer prmadm_wrong"], [.authorization: TestGateway.adminToken]] {
                    try await client.execute(uri: uri, method: method, headers: headers) { response in
                        #expect(response.status == .unauthorized, "\(method) \(uri)")
                    }
                }
            }
        }
    }

    /// A path the admin API has, with a method it does not answer: 405 naming what it answers.
    @Test func anUndeclaredMethodIs405WithAllow() async throws {
        let app = try await TestGateway.make(demo: true)
        try await app.test(.router) { client in
            for (uri, method, allow) in [
                ("/admin/v1/audit", HTTPRequest.Method.post, "GET"), ("/admin/v1/keys/key_x", .put, "DELETE, GET, PATCH"),
                ("/admin/v1/keys", .delete, "GET, POST"), ("/admin/v1/nothing", .get, nil),
            ] {
                try await client.execute(uri: uri, method: method, headers: TestGateway.adminHeaders) { response in
                    #expect(response.status == (allow == nil ? .notFound : .methodNotAllowed), "\(method) \(uri)")
                    #expect(response.headers[.allow] == allow, "\(method) \(uri)")
                }
            }
        }
    }

    @Test func keyLifecycle() async throws {
        let app = try await TestGateway.make(demo: true)
        try await app.test(.router) { client in
            let (id, key) = try await TestGateway.createKey(client, name: "billing", env: "prod")
            #expect(key.hasPrefix("prm_prod_"))
            try await client.execute(uri: "/admin/v1/keys/\(id)", method: .get, headers: TestGateway.adminHeaders) { response in
                let body = try TestGateway.json(response.body)
                #expect(body["name"] as? String == "billing")
                #expect(body["key"] == nil)
                #expect((body["prefix"] as? String).map { key.hasPrefix($0) } == true)
            }
            _ = try await TestGateway.createKey(client, name: "other", env: "dev")
            try await client.execute(uri: "/admin/v1/keys?env=prod", method: .get, headers: TestGateway.adminHeaders) { response in
                let data = try TestGateway.json(response.body)["data"] as? [[String: Any]]
                #expect(data?.map { $0["name"] as? String } == ["billing"])
                #expect(!String(buffer: response.body).contains(key))
            }
            try await client.execute(uri: "/admin/v1/keys/key_nothere", method: .get, headers: TestGateway.adminHeaders) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    @Test(arguments: [
        #"{"name":"x","env":"Prod"}"#, #"{"name":"","env":"dev"}"#, #"{"env":"dev"}"#, "not json", #"{"name":"x","env":"a_b"}"#,
    ])
    func createRefusesBadInput(body: String) async throws {
        let app = try await TestGateway.make(demo: true)
        try await app.test(.router) { client in
            try await client.execute(
                uri: "/admin/v1/keys", method: .post, headers: TestGateway.adminHeaders, body: ByteBuffer(string: body)
            ) { response in
                #expect(response.status == .badRequest)
                let errorCode = try TestGateway.errorCode(response.body)
                #expect(errorCode == "invalid_request")
            }
        }
    }

    /// Numbers no limit can hold are refused with a 400 naming the field, and the gateway goes on.
    @Test(arguments: [
        (#"{"name":"x","env":"dev","limits":{"budget":{"usd":1.6e308,"period":"week"}}}"#, "limits.budget.usd"),
        (#"{"name":"x","env":"dev","limits":{"budget":{"usd":-1e300,"period":"week"}}}"#, "limits.budget.usd"),
        (#"{"name":"x","env":"dev","limits":{"rpm":1e30}}"#, "rpm"),
        (#"{"name":"x","env":"dev","limits":{"tpm":-1}}"#, "tpm"),
        (#"{"name":"x","env":"dev","rotation":{"every":"1e300d"}}"#, "rotation.every"),
        (#"{"name":"x","env":"dev","rotation":{"every":"30d","grace":"9e99w"}}"#, "rotation.grace"),
    ])
    func hostileNumbersAreRefusedAndTheGatewayGoesOn(body: String, field: String) async throws {
        let app = try await TestGateway.make(demo: true)
        try await app.test(.router) { client in
            try await client.execute(
                uri: "/admin/v1/keys", method: .post, headers: TestGateway.adminHeaders, body: ByteBuffer(string: body)
            ) { response in
                #expect(response.status == .badRequest, "\(body)")
                let message = try #require((try TestGateway.json(response.body)["error"] as? [String: Any])?["message"] as? String)
                #expect(message.contains(field), "\(message)")
            }
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test func spendAndCallsValidateTheirQueries() async throws {
        let app = try await TestGateway.make(demo: true)
        try await app.test(.router) { client in
            for uri in [
                "/admin/v1/spend?group_by=planet", "/admin/v1/calls?since=yesterday", "/admin/v1/calls?limit=0",
                "/admin/v1/spend?until=tomorrow",
            ] {
                try await client.execute(uri: uri, method: .get, headers: TestGateway.adminHeaders) { response in
                    #expect(response.status == .badRequest, "\(uri)")
                    let message = try TestGateway.json(response.body)["error"] as? [String: Any]
                    if uri.contains("tomorrow") { #expect((message?["message"] as? String)?.hasPrefix("'until'") == true) }
                }
            }
            try await client.execute(uri: "/admin/v1/spend?group_by=model&since=30d", method: .get, headers: TestGateway.adminHeaders) {
                response in
                #expect(response.status == .ok)
                let body = try TestGateway.json(response.body)
                #expect(body["group_by"] as? String == "model")
            }
            try await client.execute(
                uri: "/admin/v1/spend?since=2026-01-01T00:00:00Z&until=2026-01-02T00:00:00Z", method: .get,
                headers: TestGateway.adminHeaders
            ) { response in
                #expect(response.status == .ok)
                let body = try TestGateway.json(response.body)
                #expect(body["until"] as? String == "2026-01-02T00:00:00.000Z")
            }
            // A window that ends before it starts holds no calls.
            try await client.execute(uri: "/admin/v1/spend?since=1h&until=2h", method: .get, headers: TestGateway.adminHeaders) {
                response in
                #expect(response.status == .ok)
                let body = try TestGateway.json(response.body)
                #expect((body["data"] as? [Any])?.isEmpty == true)
            }
        }
    }

    @Test func theOpenAPIDocumentIsValidJSONAndCoversTheRoutes() async throws {
        let gateway = try await TestGateway.build(demo: true)
        // What the router serves under /admin/v1, by path: the methods of each.
        var served: [String: Set<String>] = [:]
        for route in gateway.routes {
            let parts = route.split(separator: " ", maxSplits: 1).map(String.init)
            guard parts[1].hasPrefix("/admin/v1/"), parts[1] != "/admin/v1/openapi.json" else { continue }
            served[String(parts[1].dropFirst("/admin/v1".count)), default: []].insert(parts[0].lowercased())
        }
        let routes = served
        try await gateway.application.test(.router) { client in
            try await client.execute(uri: "/admin/v1/openapi.json", method: .get) { response in
                let document = try TestGateway.json(response.body)
                let paths = try #require(document["paths"] as? [String: [String: Any]])
                var documented: [String: Set<String>] = [:]
                for (path, item) in paths {
                    documented[path] = Set(item.keys.filter { ["get", "post", "put", "patch", "delete"].contains($0) })
                }
                #expect(documented == routes)
                #expect(
                    Set(paths.keys) == [
                        "/keys", "/keys/{id}", "/keys/{id}/rotate", "/calls", "/spend", "/secrets", "/secrets/{name}",
                        "/secrets/{name}/rotate", "/secrets/reload", "/admins", "/admins/{id}", "/audit", "/findings", "/inventory",
                        "/alerts", "/alerts/rules", "/fingerprints", "/inventory/sync", "/provider-keys", "/provider-keys/{id}/disable",
                        "/session", "/spend/series", "/calls/stream", "/calls/breakdown",
                    ])
                // Every status the middleware and decoder can answer is declared where it can happen.
                for (path, item) in paths {
                    for (method, value) in item where ["get", "post", "put", "patch", "delete"].contains(method) {
                        let operation = try #require(value as? [String: Any])
                        let statuses = Set((operation["responses"] as? [String: Any] ?? [:]).keys)
                        #expect(statuses.contains("401"), "\(method) \(path) does not declare 401")
                        if method != "get" { #expect(statuses.contains("403"), "\(method) \(path) does not declare 403 (viewer)") }
                        if operation["requestBody"] != nil {
                            #expect(statuses.isSuperset(of: ["400", "413"]), "\(method) \(path) does not declare 400 and 413")
                        }
                    }
                }
            }
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }
}
