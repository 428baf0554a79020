import Foundation
import PerimeterCore

/// What an admin identity may do.
public enum AdminRole: String, Sendable, Hashable, Codable, CaseIterable {
    case admin
    case viewer
}

/// An admin identity: a named token (stored as its digest) with a role.
public struct AdminToken: Sendable, Hashable {
    public var id: String
    public var name: String
    public var role: AdminRole
    public var digest: KeyDigest
    public var createdAt: Date
    public var revokedAt: Date?

    public init(id: String, name: String, role: AdminRole, digest: KeyDigest, createdAt: Date, revokedAt: Date? = nil) {
        self.id = id
        self.name = name
        self.role = role
        self.digest = digest
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }
}

/// Durable home of admin identities.
public protocol AdminTokenStore: Sendable {
    func insertAdminToken(_ token: AdminToken) async throws
    func adminTokens() async throws -> [AdminToken]
    /// Marks the token revoked (the first revocation wins) and returns it; `nil` if unknown.
    func revokeAdminToken(id: String, at time: Date) async throws -> AdminToken?
}
