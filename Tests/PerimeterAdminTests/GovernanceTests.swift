import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PerimeterCore
import PerimeterGatewayTesting
import PerimeterSecrets
import Testing

@testable import PerimeterAdmin
@testable import PerimeterProxy
@testable import PerimeterRotation

@Suite struct GovernanceTests {
    let now = Date(timeIntervalSince1970: 1_790_000_000)
    let day = 86400.0

    func key(_ name: String, env: String = "prod", owner: String? = "team", issuedDaysAgo: Double, lastUsedDaysAgo: Double?)
        -> VirtualKey
    {
        var key = VirtualKey.issue(name: name, env: env, owner: owner, now: now.addingTimeInterval(-issuedDaysAgo * day)).0
        key.lastUsedAt = lastUsedDaysAgo.map { now.addingTimeInterval(-$0 * day) }
        return key
    }

    @Test func inventoryFlagsStaleUnownedExpiringAndOverAgeKeys() {
        var policy = RotationPolicy()
        policy.maxAges["prod"] = .seconds(90 * 86400)
        var expiring = key("expiring", issuedDaysAgo: 10, lastUsedDaysAgo: 1)
        expiring.policy.expiresAt = now.addingTimeInterval(3 * day)
        var revoked = key("revoked", issuedDaysAgo: 200, lastUsedDaysAgo: 100)
        revoked.revokedAt = now.addingTimeInterval(-day)
        let keys = [
            key("fresh", issuedDaysAgo: 10, lastUsedDaysAgo: 1),
            key("stale", issuedDaysAgo: 60, lastUsedDaysAgo: 31),
            key("unused", issuedDaysAgo: 45, lastUsedDaysAgo: nil),
            key("unowned", owner: nil, issuedDaysAgo: 5, lastUsedDaysAgo: 0),
            key("old", issuedDaysAgo: 91, lastUsedDaysAgo: 0),
            key("old-dev", env: "dev", issuedDaysAgo: 400, lastUsedDaysAgo: 0),
            expiring, revoked,
        ]
        let report = InventoryReport.build(
            keys: keys.map { InventoryReport.KeyFacts(key: $0, lastClientIP: "10.0.0.1", spend: .zero, spendSince: now, budget: nil) },
            credentials: [], findings: [], policy: policy, now: now)
        let byName = Dictionary(uniqueKeysWithValues: report.keys.map { ($0.name, $0) })
        #expect(byName["fresh"]?.status == "active" && byName["fresh"]?.flags == [])
        #expect(byName["stale"]?.status == "stale" && byName["stale"]?.flags == ["stale"])
        #expect(byName["unused"]?.status == "stale" && byName["unused"]?.flags == ["never_used"])
        #expect(byName["unowned"]?.flags == ["no_owner"])
        #expect(byName["old"]?.flags == ["over_max_age"])
        #expect(byName["old"]?.rotationDue == Timestamp.format(now.addingTimeInterval(-day)))
        #expect(byName["old-dev"]?.flags == [])  // no max age for dev
        #expect(byName["expiring"]?.status == "expiring" && byName["expiring"]?.flags == ["expiring"])
        #expect(byName["revoked"]?.status == "revoked" && byName["revoked"]?.flags == [])
        let prod = report.summary.first { $0.env == "prod" }
        #expect(prod?.keys == 7 && prod?.stale == 2 && prod?.overMaxAge == 1 && prod?.unowned == 1 && prod?.revoked == 1)
    }

    @Test func aRotatedSecretWorksUntilItsGraceEndsThenIsRefusedAsRotated() {
        let clock = Clock(now)
        let cache = KeyCache()
        let authenticator = Authenticator(cache: cache, now: { clock.now })
        let (key, old) = VirtualKey.issue(name: "svc", env: "prod", owner: nil, now: now)
        let new = TokenFormat.makeVirtualKey(environment: "prod")
        let rotated = key.rotated(to: new, grace: .seconds(60), now: now)
        cache.store(rotated)
        guard case .success(let current) = authenticator.authenticate(new.revealed) else { Issue.record("new secret"); return }
        #expect(current.generation == 2)
        clock.now = now.addingTimeInterval(59.9)
        guard case .success(let previous) = authenticator.authenticate(old.revealed) else { Issue.record("in grace"); return }
        #expect(previous.generation == 1 && previous.key.id == key.id)
        clock.now = now.addingTimeInterval(60)
        guard case .failure(let failure) = authenticator.authenticate(old.revealed) else { Issue.record("after grace"); return }
        #expect(failure.error == .keyRotated && failure.generation == 1)
        var revoked = rotated
        revoked.revokedAt = now
        cache.store(revoked)
        clock.now = now
        guard case .failure(let refused) = authenticator.authenticate(old.revealed) else { Issue.record("revoked"); return }
        #expect(refused.error == .keyRevoked)
    }

    final class Clock: @unchecked Sendable {
        var now: Date
        init(_ now: Date) { self.now = now }
    }

    @Test func rotateIsIdempotentRefusesBadRequestsAndEveryActionIsAuditedOnce() async throws {
        let app = try await TestGateway.make(demo: true) { configuration in
            configuration.rotation.maxAges["dev"] = .seconds(7 * 86400)
        }
        try await app.test(.router) { client in
            let (id, _) = try await TestGateway.createKey(client)
            var headers = TestGateway.adminHeaders
            headers[HTTPField.Name("idempotency-key")!] = "retry-1"
            let first = try await client.execute(
                uri: "/admin/v1/keys/\(id)/rotate", method: .post, headers: headers, body: ByteBuffer(string: #"{"grace":"1h"}"#)
            ) { response in
                #expect(response.status == .created)
                return try #require((try TestGateway.json(response.body)["key"] as? [String: Any])?["key"] as? String)
            }
            let second = try await client.execute(
                uri: "/admin/v1/keys/\(id)/rotate", method: .post, headers: headers, body: ByteBuffer(string: #"{"grace":"1h"}"#)
            ) { response in
                #expect(response.status == .ok)
                return try #require((try TestGateway.json(response.body)["key"] as? [String: Any])?["key"] as? String)
            }
            #expect(first == second)
            try await client.execute(
                uri: "/admin/v1/keys/\(id)/rotate", method: .post, headers: TestGateway.adminHeaders,
                body: ByteBuffer(string: #"{"grace":"8d"}"#)
            ) { response in
                // Well formed, but longer than this environment's policy allows: a conflict with the configuration.
                #expect(response.status == .conflict)
                #expect(String(buffer: response.body).contains("maximum key age"))
            }
            try await client.execute(
                uri: "/admin/v1/keys/\(id)", method: .patch, headers: TestGateway.adminHeaders,
                body: ByteBuffer(string: #"{"rotation":{"every":"30d","deliver_to":"vault:secret/app#key"}}"#)
            ) { response in
                #expect(response.status == .conflict)
                #expect(String(buffer: response.body).contains("not configured for vault:"))
            }
            try await client.execute(
                uri: "/admin/v1/keys/\(id)", method: .patch, headers: TestGateway.adminHeaders,
                body: ByteBuffer(string: #"{"limits":{"rpm":10}}"#)
            ) { response in #expect(response.status == .ok) }
            try await client.execute(uri: "/admin/v1/keys/\(id)?reason=leaked", method: .delete, headers: TestGateway.adminHeaders) {
                response in #expect(response.status == .ok)
            }
            try await client.execute(
                uri: "/admin/v1/keys/\(id)/rotate", method: .post, headers: TestGateway.adminHeaders, body: ByteBuffer(string: "{}")
            ) { response in
                #expect(response.status == .conflict)
                #expect(String(buffer: response.body).contains("revoked"))
            }
            // A viewer reads but cannot write.
            let viewer = try await client.execute(
                uri: "/admin/v1/admins", method: .post, headers: TestGateway.adminHeaders,
                body: ByteBuffer(string: #"{"name":"auditor","role":"viewer"}"#)
            ) { response in
                #expect(response.status == .created)
                return try #require(try TestGateway.json(response.body)["token"] as? String)
            }
            let viewerHeaders: HTTPFields = [.authorization: "Bearer \(viewer)", .contentType: "application/json"]
            try await client.execute(uri: "/admin/v1/inventory", method: .get, headers: viewerHeaders) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(
                uri: "/admin/v1/keys", method: .post, headers: viewerHeaders, body: ByteBuffer(string: #"{"name":"x","env":"dev"}"#)
            ) { response in #expect(response.status == .forbidden) }

            try await client.execute(uri: "/admin/v1/audit", method: .get, headers: viewerHeaders) { response in
                let entries = try #require(try TestGateway.json(response.body)["data"] as? [[String: Any]])
                #expect(
                    entries.map { $0["action"] as? String } == ["admin.create", "key.revoke", "key.update", "key.rotate", "key.create"])
                let revoke = try #require(entries.first { $0["action"] as? String == "key.revoke" })
                #expect((revoke["details"] as? String)?.contains(#""reason":"leaked""#) == true)
                let update = try #require(entries.first { $0["action"] as? String == "key.update" })
                #expect((update["details"] as? String)?.contains(#""rpm":10"#) == true)
                #expect(Set(entries.compactMap { $0["actor"] as? String }) == ["PERIMETER_ADMIN_TOKEN"])
            }
        }
    }
}
