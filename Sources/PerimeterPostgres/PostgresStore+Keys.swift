import Foundation
import PerimeterCore
import PerimeterStorage
import PostgresNIO

// MARK: - KeyStore

extension PostgresStore: KeyStore {
    public func insert(_ key: VirtualKey) async throws {
        let policy = try StoredJSON.encode(key.policy)
        let retired = try StoredJSON.encode(key.retiredSecrets)
        let rotation = try key.rotation.map(StoredJSON.encode)
        do {
            try await client.query(
                """
                INSERT INTO virtual_keys (
                    id, name, env, owner, prefix, key_hash, created_at, revoked_at, last_used_at, policy,
                    generation, retired_secrets, rotated_at, rotation, canary
                ) VALUES (
                    \(key.id), \(key.name), \(key.env), \(key.owner), \(key.prefix), \(key.digest.hex),
                    \(key.createdAt.milliseconds), \(key.revokedAt?.milliseconds), \(key.lastUsedAt?.milliseconds), \(policy),
                    \(key.generation), \(retired), \(key.rotatedAt?.milliseconds), \(rotation), \(key.isCanary)
                )
                """, logger: logger)
        } catch let error as PSQLError where error.isUniqueViolation {
            throw StoreConflict("a key with the same id or secret exists")
        }
        try await notifyKeyChanged(key.id)
    }

    public func key(id: String) async throws -> VirtualKey? {
        try await Self.keys(try await client.query("SELECT * FROM virtual_keys WHERE id = \(id)", logger: logger)).first
    }

    public func keys(env: String?) async throws -> [VirtualKey] {
        if let env {
            return try await Self.keys(
                try await client.query("SELECT * FROM virtual_keys WHERE env = \(env) ORDER BY created_at, id", logger: logger))
        }
        return try await Self.keys(try await client.query("SELECT * FROM virtual_keys ORDER BY created_at, id", logger: logger))
    }

    public func revoke(id: String, at time: Date) async throws -> VirtualKey? {
        try await client.query(
            "UPDATE virtual_keys SET revoked_at = \(time.milliseconds) WHERE id = \(id) AND revoked_at IS NULL", logger: logger)
        try await notifyKeyChanged(id)
        return try await key(id: id)
    }

    public func update(id: String, _ change: @Sendable (inout VirtualKey) throws -> Void) async throws -> VirtualKey? {
        // The transaction runs within this call (under a deadline, in a child task it awaits).
        try await withoutActuallyEscaping(change) { change in try await update(id: id, escaping: change) }
    }

    private func update(id: String, escaping change: @escaping @Sendable (inout VirtualKey) throws -> Void) async throws -> VirtualKey? {
        try await transaction { [self] connection in
            let rows = try await connection.query("SELECT * FROM virtual_keys WHERE id = \(id) FOR UPDATE", logger: logger)
            guard let current = try await Self.keys(rows).first else { return nil }
            var changed = current
            try change(&changed)
            changed.keepingIdentity(of: current)
            let policy = try StoredJSON.encode(changed.policy)
            let rotation = try changed.rotation.map(StoredJSON.encode)
            try await connection.query(
                """
                UPDATE virtual_keys SET name = \(changed.name), owner = \(changed.owner), policy = \(policy), rotation = \(rotation)
                WHERE id = \(id)
                """, logger: logger)
            // Delivered to every listener when the transaction commits.
            try await connection.query("SELECT pg_notify(\(Self.keyChannel), \(id))", logger: logger)
            return changed
        }
    }

    public func rotate(id: String, _ rotate: @Sendable (VirtualKey) throws -> VirtualKey) async throws -> VirtualKey? {
        try await withoutActuallyEscaping(rotate) { rotate in try await self.rotate(id: id, escaping: rotate) }
    }

    private func rotate(id: String, escaping rotate: @escaping @Sendable (VirtualKey) throws -> VirtualKey) async throws -> VirtualKey? {
        try await transaction { [self] connection in
            let rows = try await connection.query("SELECT * FROM virtual_keys WHERE id = \(id) FOR UPDATE", logger: logger)
            guard let current = try await Self.keys(rows).first else { return nil }
            let rotated = try rotate(current)
            let retired = try StoredJSON.encode(rotated.retiredSecrets)
            try await connection.query(
                """
                UPDATE virtual_keys SET key_hash = \(rotated.digest.hex), prefix = \(rotated.prefix),
                    generation = \(rotated.generation), retired_secrets = \(retired), rotated_at = \(rotated.rotatedAt?.milliseconds)
                WHERE id = \(id)
                """, logger: logger)
            try await connection.query("SELECT pg_notify(\(Self.keyChannel), \(id))", logger: logger)
            return rotated
        }
    }

    public func recordUse(_ lastUsed: [String: Date]) async throws {
        guard !lastUsed.isEmpty else { return }
        let ids = Array(lastUsed.keys)
        let times = ids.map { lastUsed[$0]?.milliseconds ?? 0 }
        // One statement for the batch: unnest pairs each id with its time.
        try await client.query(
            """
            UPDATE virtual_keys AS k SET last_used_at = u.time
            FROM unnest(\(ids)::TEXT[], \(times)::BIGINT[]) AS u(id, time)
            WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.time)
            """, logger: logger)
    }

    /// The LISTEN/NOTIFY channel of key changes; the payload is the key's id.
    static let keyChannel = "perimeter_keys"

    func notifyKeyChanged(_ id: String) async throws {
        try await client.query("SELECT pg_notify(\(Self.keyChannel), \(id))", logger: logger)
    }

    /// Throws when a stored policy cannot be read: a key must never fall back to having no limits.
    static func keys(_ rows: PostgresRowSequence) async throws -> [VirtualKey] {
        var keys: [VirtualKey] = []
        for try await row in rows {
            let row = row.makeRandomAccess()
            guard let digest = KeyDigest(hex: try row.value("key_hash", as: String.self)) else {
                throw StoreConflict("a stored key hash is not a SHA-256 digest")
            }
            keys.append(
                try VirtualKey(
                    id: row.value("id"), name: row.value("name"), env: row.value("env"), owner: row.value("owner"),
                    prefix: row.value("prefix"), digest: digest,
                    createdAt: Date(milliseconds: row.value("created_at")),
                    revokedAt: row.value("revoked_at", as: Int64?.self).map(Date.init(milliseconds:)),
                    lastUsedAt: row.value("last_used_at", as: Int64?.self).map(Date.init(milliseconds:)),
                    policy: JSONDecoder().decode(KeyPolicy.self, from: Data(row.value("policy", as: String.self).utf8)),
                    generation: row.value("generation", as: Int.self),
                    retiredSecrets: StoredJSON.decode([RetiredSecret].self, row.value("retired_secrets")),
                    rotatedAt: row.value("rotated_at", as: Int64?.self).map(Date.init(milliseconds:)),
                    rotation: row.value("rotation", as: String?.self).map { try StoredJSON.decode(RotationSchedule.self, $0) },
                    isCanary: row.value("canary")))
        }
        return keys
    }
}

// MARK: - KeyChangeFeed

extension PostgresStore: KeyChangeFeed {
    /// LISTENs on a connection of its own (a pooled one would be handed back between notifications).
    public func followKeyChanges(_ changed: @escaping @Sendable (String) async -> Void) async throws {
        guard let configuration = connectionConfiguration else { throw NotListening() }
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        do {
            try await connection.listen(on: Self.keyChannel) { notifications in
                for try await notification in notifications {
                    await changed(notification.payload)
                }
            }
            try? await connection.close()
        } catch {
            try? await connection.close()
            if Task.isCancelled { return }
            throw error
        }
    }
}

/// The store was opened without a connection configuration to listen with.
struct NotListening: Error, CustomStringConvertible {
    var description: String { "this PostgreSQL store was opened without a listening connection" }
}

// MARK: - AdminTokenStore

extension PostgresStore: AdminTokenStore {
    public func insertAdminToken(_ token: AdminToken) async throws {
        try await client.query(
            """
            INSERT INTO admin_tokens (id, name, role, token_hash, created_at, revoked_at)
            VALUES (\(token.id), \(token.name), \(token.role.rawValue), \(token.digest.hex), \(token.createdAt.milliseconds),
                    \(token.revokedAt?.milliseconds))
            """, logger: logger)
    }

    public func revokeAdminToken(id: String, at time: Date) async throws -> AdminToken? {
        try await client.query(
            "UPDATE admin_tokens SET revoked_at = \(time.milliseconds) WHERE id = \(id) AND revoked_at IS NULL", logger: logger)
        return try await adminTokens().first { $0.id == id }
    }

    public func adminTokens() async throws -> [AdminToken] {
        var tokens: [AdminToken] = []
        for try await row in try await client.query("SELECT * FROM admin_tokens ORDER BY created_at, id", logger: logger) {
            let row = row.makeRandomAccess()
            guard let digest = KeyDigest(hex: try row.value("token_hash", as: String.self)) else { continue }
            tokens.append(
                AdminToken(
                    id: try row.value("id"), name: try row.value("name"),
                    role: AdminRole(rawValue: try row.value("role")) ?? .viewer, digest: digest,
                    createdAt: Date(milliseconds: try row.value("created_at")),
                    revokedAt: try row.value("revoked_at", as: Int64?.self).map(Date.init(milliseconds:))))
        }
        return tokens
    }
}

extension PSQLError {
    /// SQLSTATE 23505: a unique or primary-key constraint refused the row.
    var isUniqueViolation: Bool { serverInfo?[.sqlState] == "23505" }
}
