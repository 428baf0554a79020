import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PerimeterCore
import PerimeterGatewayTesting
import PerimeterStorage
import Testing

@testable import PerimeterAdmin
@testable import PerimeterRotation

/// Findings from people's machines (`perimeter scan --sweep --report --owner NAME`): validated like
/// every admin input, and answered per owner by the inventory.
@Suite struct FindingOwnerTests {
    let now = Date(timeIntervalSince1970: 1_790_000_000)

    func finding(_ sha: String, owner: String?, host: String?, classification: String?, path: String = "~/.env") -> ReportedFinding {
        ReportedFinding(
            rule: "openai-api-key", provider: "OpenAI", path: path, line: 2, commit: nil, sha256: sha, managedKeyID: nil, owner: owner,
            hostname: host, classification: classification, reportedAt: now)
    }

    @Test func theOwnersSectionGroupsEachPersonsKeysWithEveryPlaceTheyWereFound() {
        var issued = VirtualKey.issue(name: "alice-app", env: "dev", owner: "alice", now: now).0
        issued.id = "key_aaaaaaaaaaaaaaaa"
        var revoked = VirtualKey.issue(name: "old", env: "dev", owner: "alice", now: now).0
        revoked.revokedAt = now
        let findings = [
            finding("11", owner: "alice", host: "laptop", classification: "provider_key"),
            finding("11", owner: "alice", host: "desktop", classification: "provider_key_held_by_gateway", path: "~/.zsh_history"),
            finding("22", owner: "alice", host: "laptop", classification: "managed"),
            finding("33", owner: "bob", host: "bob-mac", classification: "provider_key"),
            finding("44", owner: nil, host: nil, classification: nil, path: "repo/app.py"),
        ]
        let report = InventoryReport.build(
            keys: [issued, revoked].map {
                InventoryReport.KeyFacts(key: $0, lastClientIP: nil, spend: .zero, spendSince: now, budget: nil)
            },
            credentials: [], findings: findings, policy: RotationPolicy(), now: now)
        #expect(report.owners.map(\.owner) == ["alice", "bob"])
        let alice = report.owners[0]
        #expect(alice.hostnames == ["desktop", "laptop"] && alice.virtualKeys == ["key_aaaaaaaaaaaaaaaa"])
        #expect(alice.keys.map(\.sha256) == ["11", "22"])
        #expect(alice.keys[0].classification == "provider_key_held_by_gateway")
        #expect(alice.keys[0].locations.map { "\($0.hostname ?? "-"):\($0.path)" } == ["desktop:~/.zsh_history", "laptop:~/.env"])
        #expect(alice.classifications == ["provider_key_held_by_gateway": 1, "managed": 1])
        #expect(report.owners[1].keys.map(\.sha256) == ["33"] && report.owners[1].virtualKeys.isEmpty)
        #expect(report.findings.count == 5)
    }

    @Test func reportsCarryOwnerHostnameAndClassificationAndBadOnesAre400() async throws {
        let app = try await TestGateway.make(demo: true)
        try await app.test(.router) { client in
            let (id, _) = try await TestGateway.createKey(client)
            let sha = String(repeating: "ab", count: 32)
            func post(_ extra: String) async throws -> (HTTPResponse.Status, String) {
                let body = #"{"findings":[{"rule":"openai-api-key","path":"~/.zsh_history","line":3,"sha256":"\#(sha)"\#(extra)}]}"#
                return try await client.execute(
                    uri: "/admin/v1/findings", method: .post, headers: TestGateway.adminHeaders, body: ByteBuffer(string: body)
                ) { response in (response.status, String(buffer: response.body)) }
            }
            let good = try await post(#","owner":"team-a","hostname":"alice-laptop.local","classification":"provider_key""#)
            #expect(good.0 == .ok && good.1.contains(#""new":1"#))
            let refused: [(String, String)] = [
                (#","owner":"""#, "findings[0].owner must be 1 to 128 characters"),
                (#","owner":"a\u001bb""#, "findings[0].owner must be 1 to 128 characters"),
                (#","owner":"\#(String(repeating: "x", count: 129))""#, "findings[0].owner"),
                (#","hostname":"\#(String(repeating: "h", count: 254))""#, "findings[0].hostname must be 1 to 253 characters"),
                (#","hostname":"a\nb""#, "findings[0].hostname"),
                (#","classification":"fine""#, "findings[0].classification must be one of managed, provider_key_held_by_gateway"),
            ]
            for (extra, message) in refused {
                let (status, body) = try await post(extra)
                #expect(status == .badRequest, "\(extra)")
                #expect(body.contains(message), "\(body)")
            }
            try await client.execute(uri: "/admin/v1/inventory", method: .get, headers: TestGateway.adminHeaders) { response in
                let owners = try #require(try TestGateway.json(response.body)["owners"] as? [[String: Any]])
                #expect(owners.count == 1)
                #expect(owners.first?["owner"] as? String == "team-a" && owners.first?["hostnames"] as? [String] == ["alice-laptop.local"])
                #expect(owners.first?["virtual_keys"] as? [String] == [id])
                let key = try #require((owners.first?["keys"] as? [[String: Any]])?.first)
                #expect(key["classification"] as? String == "provider_key" && key["sha256"] as? String == sha)
            }
        }
    }
}
