import Foundation
import Hummingbird
import PerimeterAdminModels
import PerimeterCore
import PerimeterProviderAdmin
import PerimeterProxy
import PerimeterStorage

/// A provider key as the admin API shows it: the provider's facts, whether the gateway holds it (the
/// secret reference it is held as), and its flags.
package struct ProviderKeyView: Codable, Sendable {
    var provider: String
    var id: String
    var kind: String
    var name: String?
    var hint: String?
    var owner: String?
    var scope: String?
    var scopeName: String?
    var status: String
    var createdAt: String?
    var lastUsedAt: String?
    var heldAs: String?
    var managed: Bool
    var ageDays: Int?
    var flags: [String]

    enum CodingKeys: String, CodingKey {
        case provider, id, kind, name, hint, owner, scope, scopeName = "scope_name", status, createdAt = "created_at",
            lastUsedAt = "last_used_at", heldAs = "held_as", managed, ageDays = "age_days", flags
    }

    init(_ assessed: ProviderKeyAssessment) {
        let key = assessed.key
        (provider, id, kind, name, hint, owner) = (key.provider, key.id, key.kind, key.name, key.hint, key.owner)
        (scope, scopeName, status) = (key.scope, key.scopeName, key.status)
        createdAt = key.createdAt.map(Timestamp.format)
        lastUsedAt = key.lastUsedAt.map(Timestamp.format)
        (heldAs, managed, ageDays, flags) = (assessed.heldAs, assessed.heldAs != nil, assessed.ageDays, assessed.flags)
    }

    /// Every field, `null` when empty, so the JSON form has one shape.
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        for (value, key) in [
            (provider, CodingKeys.provider), (id, .id), (kind, .kind), (status, .status),
        ] {
            try c.encode(value, forKey: key)
        }
        for (value, key) in [
            (name, CodingKeys.name), (hint, .hint), (owner, .owner), (scope, .scope), (scopeName, .scopeName), (createdAt, .createdAt),
            (lastUsedAt, .lastUsedAt), (heldAs, .heldAs),
        ] {
            try c.encode(value, forKey: key)
        }
        try c.encode(managed, forKey: .managed)
        try c.encode(ageDays, forKey: .ageDays)
        try c.encode(flags, forKey: .flags)
    }
}

/// How the latest read of one provider's key list went.
package struct ProviderSyncView: Codable, Sendable {
    var provider: String
    var status: String
    var message: String?
    var attemptedAt: String
    var syncedAt: String?
    var keys: Int

    enum CodingKeys: String, CodingKey {
        case provider, status, message, attemptedAt = "attempted_at", syncedAt = "synced_at", keys
    }

    init(_ snapshot: ProviderKeySnapshot) {
        (provider, status, message, keys) = (snapshot.provider, snapshot.status, snapshot.message, snapshot.keys.count)
        attemptedAt = Timestamp.format(snapshot.attemptedAt)
        syncedAt = snapshot.syncedAt.map(Timestamp.format)
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(provider, forKey: .provider)
        try c.encode(status, forKey: .status)
        try c.encode(message, forKey: .message)
        try c.encode(attemptedAt, forKey: .attemptedAt)
        try c.encode(syncedAt, forKey: .syncedAt)
        try c.encode(keys, forKey: .keys)
    }
}

/// `GET /provider-keys`, `POST /provider-keys/{id}/disable` and `POST /inventory/sync`: the keys the
/// providers themselves list, read with each provider's `admin_key`, and acting on them.
package struct ProviderKeyRoutes: Sendable {
    let sync: ProviderKeySync
    let store: any ProviderKeyStore
    let audit: AdminAudit

    package init(sync: ProviderKeySync, store: any ProviderKeyStore, audit: AdminAudit) {
        self.sync = sync
        self.store = store
        self.audit = audit
    }

    struct DisableBody: Decodable {
        var reason: String?
        var dryRun: Bool

        enum CodingKeys: String, CodingKey, CaseIterable { case reason, dryRun = "dry_run" }

        init(from decoder: any Decoder) throws {
            try decoder.refuseUnknownKeys(of: CodingKeys.self)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            reason = try c.decodeIfPresent(String.self, forKey: .reason)
            dryRun = try c.decodeIfPresent(Bool.self, forKey: .dryRun) ?? false
        }
    }

    package func register(on router: RouterGroup<GatewayContext>) {
        router.get("provider-keys") { _, _ in
            try AdminRoutes.json(ListEnvelope(data: try await views()))
        }
        router.post("provider-keys/:id/disable") { request, context in
            let id = try context.parameters.require("id")
            // Provider key ids are plain (key_..., apikey_...): no other can be in a sync's list.
            guard PlainName.isValid(id, punctuation: "-_", maxLength: 200) else {
                throw GatewayError.notFound("No provider key '\(id.prefix(100))' in the last sync.")
            }
            let body = try await AdminRoutes.decode(DisableBody.self, from: request, expecting: "optionally 'reason' and 'dry_run'")
            // As a key's revocation reason: recorded as text (the audit log escapes it), first 500 characters.
            let reason = body.reason.map { String($0.prefix(500)) }
            let before: ProviderKeyAssessment
            do {
                before = try await sync.disable(id: id, dryRun: body.dryRun)
            } catch let error as GatewayError {
                // A refused or failed attempt (the CLI's dry run first) is on the record too, with why.
                try await audit.record(
                    "provider_key.disable_failed", target: id,
                    details: [
                        "error": .text(error.code), "dry_run": .json(body.dryRun ? "true" : "false"),
                        "reason": reason.map(AuditValue.text) ?? .json("null"),
                    ], request: request, context: context)
                throw error
            }
            if !body.dryRun {
                try await audit.record(
                    "provider_key.disable", target: id,
                    details: [
                        "provider": .text(before.key.provider), "name": before.key.name.map(AuditValue.text) ?? .json("null"),
                        "owner": before.key.owner.map(AuditValue.text) ?? .json("null"),
                        "reason": reason.map(AuditValue.text) ?? .json("null"),
                    ], request: request, context: context)
            }
            var view = ProviderKeyView(before)
            if !body.dryRun { view.status = "inactive" }
            return try AdminRoutes.json(DisableAnswer(key: view, dryRun: body.dryRun))
        }
        router.post("inventory/sync") { request, context in
            let snapshots = await sync.syncAll()
            try await audit.record(
                "inventory.sync", target: nil,
                details: Dictionary(uniqueKeysWithValues: snapshots.map { ($0.provider, AuditValue.text($0.status)) }),
                request: request, context: context)
            return try AdminRoutes.json(ListEnvelope(data: snapshots.map(ProviderSyncView.init)))
        }
    }

    func views() async throws -> [ProviderKeyView] {
        try await sync.assessments().map(ProviderKeyView.init)
    }

    func syncViews() async throws -> [ProviderSyncView] {
        try await store.providerKeySnapshots().map(ProviderSyncView.init)
    }
}

/// The answer to `POST /provider-keys/{id}/disable`: the key as it was, and whether this was a dry run.
struct DisableAnswer: Encodable {
    var key: ProviderKeyView
    var dryRun: Bool

    enum CodingKeys: String, CodingKey { case key, dryRun = "dry_run" }
}
