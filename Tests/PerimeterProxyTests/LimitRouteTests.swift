import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PerimeterCore
import PerimeterGatewayTesting
import Testing

@testable import PerimeterProxy

@Suite struct LimitRouteTests {
    /// Creates a key with `limits` (JSON) and returns (id, plaintext).
    func createKey(_ client: some TestClientProtocol, env: String = "dev", limits: String) async throws -> (String, String) {
        try await client.execute(
            uri: "/admin/v1/keys", method: .post, headers: TestGateway.adminHeaders,
            body: ByteBuffer(string: #"{"name":"limited","env":"\#(env)","limits":\#(limits)}"#)
        ) { response in
            #expect(response.status == .created, "\(String(buffer: response.body))")
            let object = try TestGateway.json(response.body)
            return (try #require(object["id"] as? String), try #require(object["key"] as? String))
        }
    }

    func chat(_ client: some TestClientProtocol, key: String, body: String = #"{"model":"gpt-4o-mini","max_tokens":10,"messages":[]}"#)
        async throws -> (HTTPResponse.Status, String?, HTTPFields)
    {
        try await client.execute(
            uri: "/v1/chat/completions", method: .post, headers: [.authorization: "Bearer \(key)"], body: ByteBuffer(string: body)
        ) {
            response in
            (response.status, try? TestGateway.errorCode(response.body), response.headers)
        }
    }

    @Test func aBudgetRefusesTheCallThatWouldNotFitAndSaysWhy() async throws {
        let app = try await TestGateway.make(demo: true)
        try await app.test(.router) { client in
            // The demo call costs about $0.00002; its worst case about $0.00003.
            let (id, key) = try await createKey(client, limits: #"{"budget":{"usd":0.00005,"period":"day"}}"#)
            let first = try await chat(client, key: key)
            #expect(first.0 == .ok)
            var refused: (HTTPResponse.Status, String?, HTTPFields)?
            for _ in 0..<5 {
                let result = try await chat(client, key: key)
                if result.0 != .ok {
                    refused = result
                    break
                }
            }
            #expect(refused?.0 == .tooManyRequests)
            #expect(refused?.1 == "budget_exceeded")
            try await client.execute(uri: "/admin/v1/keys/\(id)", method: .get, headers: TestGateway.adminHeaders) { response in
                let budget = try #require(try TestGateway.json(response.body)["budget"] as? [String: Any])
                #expect((budget["spent_usd"] as? Double ?? 1) <= 0.00005)
                #expect(budget["reserved_usd"] as? Double == 0)
                #expect(budget["period"] as? String == "day")
            }
        }
    }

    /// `n` answers may each use the whole output limit: the reservation holds `n` times one answer's.
    @Test func theWorstCaseCountsEveryAnswerAskedFor() async throws {
        let app = try await TestGateway.make(demo: true)
        try await app.test(.router) { client in
            // One answer's worst case is about $0.00007, eight answers' about $0.0005.
            let (_, key) = try await createKey(client, limits: #"{"budget":{"usd":0.0001,"period":"day"}}"#)
            let eight = try await chat(client, key: key, body: #"{"model":"gpt-4o-mini","max_tokens":100,"n":8,"messages":[]}"#)
            #expect(eight.0 == .tooManyRequests)
            #expect(eight.1 == "budget_exceeded")
            let one = try await chat(client, key: key, body: #"{"model":"gpt-4o-mini","max_tokens":100,"n":1,"messages":[]}"#)
            #expect(one.0 == .ok)
            let bad = try await chat(client, key: key, body: #"{"model":"gpt-4o-mini","max_tokens":100,"n":1e9,"messages":[]}"#)
            #expect(bad.0 == .badRequest)
        }
    }

    /// Hosted tools billed per call cannot be costed from tokens: refused for a key with a budget,
    /// passed through for one without.
    @Test(arguments: [
        ("/v1/responses", #"{"model":"gpt-4o-mini","input":"hi","tools":[{"type":"web_search"}]}"#),
        ("/v1/chat/completions", #"{"model":"gpt-4o-mini","messages":[],"web_search_options":{}}"#),
        ("/v1/chat/completions", #"{"model":"gpt-4o-mini","messages":[],"audio":{"voice":"alloy","format":"wav"}}"#),
        (
            "/v1/messages",
            #"{"model":"claude-haiku-4-5","max_tokens":10,"messages":[],"tools":[{"type":"web_search_20250305","name":"web_search"}]}"#
        ),
    ])
    func featuresBilledPerUseAreRefusedForABudgetedKey(path: String, body: String) async throws {
        let app = try await TestGateway.make(demo: true)
        try await app.test(.router) { client in
            let (_, budgeted) = try await createKey(client, limits: #"{"budget":{"usd":5,"period":"day"}}"#)
            let (_, open) = try await createKey(client, limits: #"{}"#)
            for (key, expected) in [(budgeted, HTTPResponse.Status.forbidden), (open, .ok)] {
                try await client.execute(
                    uri: path, method: .post,
                    headers: [.authorization: "Bearer \(key)", HTTPField.Name("anthropic-version")!: "2023-06-01"],
                    body: ByteBuffer(string: body)
                ) { response in
                    #expect(response.status == expected, "\(path) \(String(buffer: response.body))")
                    if expected == .forbidden {
                        let object = try TestGateway.json(response.body)
                        let error = try #require(object["error"] as? [String: Any])
                        #expect((error["message"] as? String)?.contains("billed per use") == true)
                    }
                }
            }
        }
    }

    @Test func anUnpricedModelIsRefusedForAKeyWithABudget() async throws {
        let app = try await TestGateway.make(demo: true)
        try await app.test(.router) { client in
            let (_, key) = try await createKey(client, limits: #"{"budget":{"usd":10,"period":"month"}}"#)
            let result = try await chat(client, key: key, body: #"{"model":"homegrown-model","messages":[]}"#)
            #expect(result.0 == .forbidden)
            #expect(result.1 == "price_unknown")
        }
    }

    @Test func environmentBudgetsCapEveryKeyOfTheEnvironmentTogether() async throws {
        let app = try await TestGateway.make(demo: true) {
            $0.environmentBudgets = ["prod": Budget(limit: Money(usd: 0.00005), period: .month)]
        }
        try await app.test(.router) { client in
            let (_, a) = try await createKey(client, env: "prod", limits: "{}")
            let (_, b) = try await createKey(client, env: "prod", limits: "{}")
            let (_, other) = try await createKey(client, env: "dev", limits: "{}")
            var statuses: [HTTPResponse.Status] = []
            for key in [a, b, a, b, a, b] { statuses.append(try await chat(client, key: key).0) }
            #expect(statuses.prefix(1) == [.ok])
            #expect(statuses.contains(.tooManyRequests))
            #expect(try await chat(client, key: other).0 == .ok)
        }
    }

    @Test func rateLimitsAnswer429WithRetryAfterAndHeaders() async throws {
        let app = try await TestGateway.make(demo: true)
        try await app.test(.router) { client in
            let (_, key) = try await createKey(client, limits: #"{"rpm":2}"#)
            let first = try await chat(client, key: key)
            #expect(first.2[HTTPField.Name("x-ratelimit-limit-requests")!] == "2")
            #expect(first.2[HTTPField.Name("x-ratelimit-remaining-requests")!] == "1")
            _ = try await chat(client, key: key)
            let third = try await chat(client, key: key)
            #expect(third.0 == .tooManyRequests)
            #expect(third.1 == "rate_limited")
            // Thirty seconds for the next of two a minute, less what refilled while a loaded machine
            // ran the three calls.
            #expect(third.2[.retryAfter].flatMap(Int.init).map { (15...30).contains($0) } == true, "\(third.2)")
            #expect(third.2[HTTPField.Name("x-ratelimit-remaining-requests")!] == "0")
        }
    }

    @Test func patchAppliesAllOrNothing() async throws {
        let app = try await TestGateway.make(demo: true)
        try await app.test(.router) { client in
            let (id, key) = try await createKey(client, limits: #"{"rpm":100,"models":["gpt-*"]}"#)
            for (body, field) in [
                (#"{"limits":{"rpm":0}}"#, "limits.rpm"), (#"{"limits":{"allowed_ips":["10.0.0.0/33"]}}"#, "allowed_ips"),
                (#"{"limits":{"budget":{"usd":5,"period":"fortnight"}}}"#, "budget"), (#"{"limits":{"tools":"maybe"}}"#, "tools"),
                (#"{"limits":{"rpm":5,"models":["bad pattern!"]}}"#, "limits.models"),
            ] {
                try await client.execute(
                    uri: "/admin/v1/keys/\(id)", method: .patch, headers: TestGateway.adminHeaders, body: ByteBuffer(string: body)
                ) {
                    response in
                    #expect(response.status == .badRequest, "\(body)")
                    #expect(String(buffer: response.body).contains(field), "\(body): \(String(buffer: response.body))")
                }
            }
            try await client.execute(uri: "/admin/v1/keys/\(id)", method: .get, headers: TestGateway.adminHeaders) { response in
                let limits = try #require(try TestGateway.json(response.body)["limits"] as? [String: Any])
                #expect(limits["rpm"] as? Int == 100)
                #expect(limits["models"] as? [String] == ["gpt-*"])
            }
            // A valid change applies from the next request; null removes a limit.
            try await client.execute(
                uri: "/admin/v1/keys/\(id)", method: .patch, headers: TestGateway.adminHeaders,
                body: ByteBuffer(string: #"{"limits":{"models":["claude-*"],"rpm":null}}"#)
            ) { response in
                #expect(response.status == .ok)
                let limits = try #require(try TestGateway.json(response.body)["limits"] as? [String: Any])
                #expect(limits["rpm"] == nil)
            }
            let refused = try await chat(client, key: key)
            #expect(refused.1 == "model_not_allowed")
            #expect(refused.2[HTTPField.Name("x-ratelimit-limit-requests")!] == nil)
        }
    }

    @Test func trustedProxiesDecideTheClientAddress() {
        let resolver = ClientAddress(trustedProxies: [CIDR("10.0.0.0/8")!, CIDR("::1")!])
        func resolve(_ socket: String, _ forwarded: String?) -> String? {
            var headers = HTTPFields()
            if let forwarded { headers[HTTPField.Name("x-forwarded-for")!] = forwarded }
            return resolver.resolve(socket: socket, headers: headers)
        }
        #expect(resolve("10.1.1.1", "203.0.113.9") == "203.0.113.9")
        #expect(resolve("10.1.1.1", "198.51.100.7, 203.0.113.9, 10.2.2.2") == "203.0.113.9")
        #expect(resolve("192.0.2.1", "203.0.113.9") == "192.0.2.1")
        #expect(resolve("::1", "2001:db8::5") == "2001:db8::5")
        #expect(resolve("10.1.1.1", "not-an-ip") == "10.1.1.1")
        #expect(resolve("10.1.1.1", nil) == "10.1.1.1")
        #expect(
            ClientAddress(trustedProxies: []).resolve(socket: "10.1.1.1", headers: [HTTPField.Name("x-forwarded-for")!: "1.2.3.4"])
                == "10.1.1.1")
    }
}
