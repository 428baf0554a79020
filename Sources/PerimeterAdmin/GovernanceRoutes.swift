import Foundation
import HTTPTypes
import Hummingbird
import PerimeterAdminModels
import PerimeterCore
import PerimeterProxy
import PerimeterRotation
import PerimeterSecrets
import PerimeterStorage
import Synchronization

/// Rotation, admin identities, the audit log, findings and the inventory: the admin routes that
/// account for every key.
package struct GovernanceRoutes: Sendable {
    let keys: any KeyStore
    let calls: any CallLog
    let adminTokens: any AdminTokenStore
    let authority: AdminAuthority
    let auditLog: any AuditLog
    let audit: AdminAudit
    let rotator: KeyRotator
    let cache: KeyCache
    let budgets: BudgetBook
    let resolver: SecretResolver
    let references: [(reference: SecretReference, usedBy: [String])]
    let policy: RotationPolicy
    let findings: any FindingStore
    /// The providers' own key lists; registered with these routes, and part of the inventory.
    package var providerKeys: ProviderKeyRoutes?

    package init(
        keys: any KeyStore, calls: any CallLog, adminTokens: any AdminTokenStore, authority: AdminAuthority, auditLog: any AuditLog,
        audit: AdminAudit, rotator: KeyRotator, cache: KeyCache, budgets: BudgetBook, resolver: SecretResolver,
        references: [(reference: SecretReference, usedBy: [String])], policy: RotationPolicy, findings: any FindingStore
    ) {
        self.keys = keys
        self.calls = calls
        self.adminTokens = adminTokens
        self.authority = authority
        self.auditLog = auditLog
        self.audit = audit
        self.rotator = rotator
        self.cache = cache
        self.budgets = budgets
        self.resolver = resolver
        self.references = references
        self.policy = policy
        self.findings = findings
    }

    /// Findings per `POST /findings`; `perimeter scan --report` sends more in batches of this size.
    package static let maximumFindingsPerReport = 1000

    struct RotateBody: Decodable {
        var grace: String?

        enum CodingKeys: String, CodingKey, CaseIterable { case grace }

        init(from decoder: any Decoder) throws {
            try decoder.refuseUnknownKeys(of: CodingKeys.self)
            grace = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(String.self, forKey: .grace)
        }
    }

    /// The answer to `POST /keys/{id}/rotate`: the key with its new secret, and when the old one retires.
    struct RotationResult: Encodable {
        var key: KeyView
        var previousGeneration: Int
        var previousRetiresAt: String
        var deliveredTo: String?

        enum CodingKeys: String, CodingKey {
            case key
            case previousGeneration = "previous_generation"
            case previousRetiresAt = "previous_retires_at"
            case deliveredTo = "delivered_to"
        }
    }

    struct AdminView: Codable, Sendable {
        var id: String
        var name: String
        var role: String
        var createdAt: String
        var revokedAt: String?
        var token: String?

        enum CodingKeys: String, CodingKey {
            case id, name, role, token
            case createdAt = "created_at"
            case revokedAt = "revoked_at"
        }

        init(_ token: AdminToken, plaintext: Secret? = nil) {
            id = token.id
            name = token.name
            role = token.role.rawValue
            createdAt = Timestamp.format(token.createdAt)
            revokedAt = token.revokedAt.map(Timestamp.format)
            self.token = plaintext?.revealed
        }
    }

    struct AuditView: Codable, Sendable {
        var id: String
        var time: String
        var actor: String
        var actorID: String?
        var address: String?
        var action: String
        var target: String?
        var details: String

        enum CodingKeys: String, CodingKey {
            case id, time, actor, address, action, target, details
            case actorID = "actor_id"
        }
    }

    package func register(on authenticated: RouterGroup<GatewayContext>) {
        authenticated.post("keys/:id/rotate") { request, context in try await rotate(request, context: context) }

        authenticated.get("admins") { _, _ in
            try AdminRoutes.json(ListEnvelope(data: try await adminTokens.adminTokens().map { AdminView($0) }))
        }
        authenticated.post("admins") { request, context in
            struct Body: Decodable {
                var name: String
                var role: String?

                enum CodingKeys: String, CodingKey, CaseIterable { case name, role }

                init(from decoder: any Decoder) throws {
                    try decoder.refuseUnknownKeys(of: CodingKeys.self)
                    let c = try decoder.container(keyedBy: CodingKeys.self)
                    name = try c.decode(String.self, forKey: .name)
                    role = try c.decodeIfPresent(String.self, forKey: .role)
                }
            }
            let body = try await AdminRoutes.decode(Body.self, from: request, expecting: "'name' and optionally 'role' (admin or viewer)")
            let name = try AdminContract.label(body.name, field: "name", maximum: 64)
            guard let role = AdminRole(rawValue: body.role ?? "viewer") else {
                throw GatewayError.invalidRequest("'role' must be admin or viewer.")
            }
            if try await adminTokens.adminTokens().contains(where: { $0.name == name && $0.revokedAt == nil }) {
                throw GatewayError.conflict("An active admin token named '\(name)' exists.")
            }
            let secret = TokenFormat.makeAdminToken()
            let token = AdminToken(
                id: "adm_" + Base62.random(count: 16), name: name, role: role, digest: KeyDigest(of: secret), createdAt: Date())
            try await adminTokens.insertAdminToken(token)
            authority.add(token)
            try await audit.record(
                "admin.create", target: token.id, details: ["name": .text(name), "role": .text(role.rawValue)], request: request,
                context: context)
            return try AdminRoutes.json(AdminView(token, plaintext: secret), status: .created)
        }
        authenticated.delete("admins/:id") { request, context in
            let id = try context.parameters.require("id")
            if id == context.admin?.id {
                throw GatewayError.conflict("An admin token cannot revoke itself; use another admin token.")
            }
            guard let token = try await adminTokens.revokeAdminToken(id: id, at: Date()) else {
                throw GatewayError.notFound("No admin token with id '\(id)'.")
            }
            authority.add(token)
            try await audit.record("admin.revoke", target: id, details: ["name": .text(token.name)], request: request, context: context)
            return try AdminRoutes.json(AdminView(token))
        }

        authenticated.get("audit") { request, _ in
            let query = request.uri.queryParameters
            let since = try query.get("since").map(AdminRoutes.since)
            let limit = try AdminRoutes.limit(query.get("limit"), default: 1000, maximum: 100_000)
            let entries = try await auditLog.auditEntries(since: since, limit: limit)
            return try AdminRoutes.json(
                ListEnvelope(
                    data: entries.map {
                        AuditView(
                            id: $0.id, time: Timestamp.format($0.time), actor: $0.actor, actorID: $0.actorID, address: $0.address,
                            action: $0.action, target: $0.target, details: $0.details)
                    }))
        }

        authenticated.post("findings") { request, context in
            struct Body: Decodable {
                var findings: [FindingReport]
                enum CodingKeys: String, CodingKey, CaseIterable { case findings }
                init(from decoder: any Decoder) throws {
                    try decoder.refuseUnknownKeys(of: CodingKeys.self)
                    findings = try decoder.container(keyedBy: CodingKeys.self).decode([FindingReport].self, forKey: .findings)
                }
            }
            let body = try await AdminRoutes.decode(Body.self, from: request, expecting: "'findings', a list", limit: 8 << 20)
            guard body.findings.count <= Self.maximumFindingsPerReport else {
                throw GatewayError.invalidRequest("At most \(Self.maximumFindingsPerReport) findings per report; send more in several.")
            }
            let reported = try body.findings.enumerated().map { index, finding throws(GatewayError) in try finding.validated(index: index) }
            let added = try await findings.recordFindings(reported, at: Date())
            try await audit.record(
                "findings.report", target: nil, details: ["received": .number(Int64(body.findings.count)), "new": .number(Int64(added))],
                request: request, context: context)
            return try AdminRoutes.json(["received": body.findings.count, "new": added])
        }

        authenticated.get("inventory") { _, _ in try AdminRoutes.json(try await inventory(now: Date())) }
        providerKeys?.register(on: authenticated)
    }

    func inventory(now: Date) async throws -> InventoryReport {
        let stored = try await keys.allKeys()
        let addresses = try await calls.lastClientAddresses()
        let monthStart = BudgetPeriod.month.start(containing: now)
        let monthSpend = Dictionary(
            try await calls.spend(SpendQuery(groupBy: .key, since: monthStart)).map { ($0.group, $0.cost) }, uniquingKeysWith: +)
        var facts: [InventoryReport.KeyFacts] = []
        let statuses = await budgets.statuses(for: stored, at: now)
        for (var key, budget) in zip(stored, statuses.map(\.key)) {
            if let used = cache.key(id: key.id)?.lastUsedAt, key.lastUsedAt.map({ $0 < used }) ?? true { key.lastUsedAt = used }
            facts.append(
                InventoryReport.KeyFacts(
                    key: key, lastClientIP: addresses[key.id], spend: monthSpend[key.id] ?? .zero, spendSince: monthStart,
                    budget: budget))
        }
        let credentials = references.map { entry in
            let check = resolver.status(of: entry.reference)
            return (check: check, createdAt: check.createdAt, usedBy: entry.usedBy)
        }
        var report = InventoryReport.build(
            keys: facts, credentials: credentials, findings: try await findings.reportedFindings(), policy: policy, now: now)
        if let providerKeys {
            report.providerKeys = try await providerKeys.views()
            report.providerSync = try await providerKeys.syncViews()
        }
        return report
    }

    private func rotate(_ request: Request, context: GatewayContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let body = try await AdminRoutes.decode(RotateBody.self, from: request, expecting: "optionally 'grace', e.g. \"24h\"")
        let graceText = body.grace ?? "24h"
        guard AdminContract.rotationGrace.matches(graceText), let seconds = TimeWindow.seconds(graceText) else {
            throw GatewayError.invalidRequest("'grace' must be a duration from 0s to 30d, such as 0s, 30m, 24h or 7d.")
        }
        let idempotencyKey = request.headers[HTTPField.Name("idempotency-key")!]
        if let idempotencyKey, idempotencyKey.isEmpty || idempotencyKey.unicodeScalars.count > 255 {
            throw GatewayError.invalidRequest("'Idempotency-Key' must be 1 to 255 characters.")
        }
        let (rotation, replayed) = try await rotator.rotate(
            id: id, grace: .seconds(Int64(seconds)), idempotencyKey: idempotencyKey)
        if !replayed {
            try await audit.record(
                "key.rotate", target: id,
                details: [
                    "generation": .number(Int64(rotation.key.generation)), "grace": .text(graceText),
                    "previous_retires_at": .text(Timestamp.format(rotation.previousRetiresAt)),
                    "delivered_to": rotation.deliveredTo.map(AuditValue.text) ?? .json("null"),
                ], request: request, context: context)
        }
        var view = KeyView(rotation.key, plaintext: rotation.secret)
        view.key = rotation.secret.revealed
        return try AdminRoutes.json(
            RotationResult(
                key: view, previousGeneration: rotation.previousGeneration,
                previousRetiresAt: Timestamp.format(rotation.previousRetiresAt), deliveredTo: rotation.deliveredTo),
            status: replayed ? .ok : .created)
    }
}
