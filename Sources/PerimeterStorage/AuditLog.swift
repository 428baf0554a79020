import Foundation
import PerimeterCore

/// One admin action: who did what to which object, when, from where, and what changed (limits before
/// and after; never a secret value).
public struct AuditEntry: Sendable, Hashable {
    public var id: String
    public var time: Date
    /// The admin identity's name.
    public var actor: String
    public var actorID: String?
    /// The client address the request came from.
    public var address: String?
    /// For example `key.create`, `key.rotate`, `secret.put`, `admin.revoke`.
    public var action: String
    /// The object acted on: a key id, `store:NAME`, an admin token id.
    public var target: String?
    /// A JSON object with the action's details.
    public var details: String

    public init(
        id: String? = nil, time: Date, actor: String, actorID: String?, address: String?,
        action: String, target: String?, details: String = "{}"
    ) {
        self.id = id ?? "aud_" + Base62.random(count: 16)
        self.time = time
        self.actor = actor
        self.actorID = actorID
        self.address = address
        self.action = action
        self.target = target
        self.details = details
    }
}

/// The append-only record of admin actions. Entries are never changed or removed.
public protocol AuditLog: Sendable {
    func appendAudit(_ entry: AuditEntry) async throws
    /// Entries at or after `since`, newest first.
    func auditEntries(since: Date?, limit: Int) async throws -> [AuditEntry]
}
