import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PerimeterAdminModels
import PerimeterCore
import PerimeterProxy
import PerimeterRotation
import PerimeterSecrets
import PerimeterStorage

/// `/admin/v1`: keys, calls and spend, for the CLI and for automation. JSON in and out; errors in the
/// OpenAI shape; every request authenticated by an admin token; every change logged with who made it.
package struct AdminRoutes: Sendable {
    let keys: any KeyStore
    let cache: KeyCache
    let calls: any CallLog
    let authority: AdminAuthority
    let budgets: BudgetBook
    let writer: CallLogWriter
    let secrets: SecretRoutes
    let governance: GovernanceRoutes
    let audit: AdminAudit
    let targets: DeliveryTargets
    let alerts: AlertRoutes
    /// The console's sessions, when the console is on: its cookie then signs admin requests in too.
    package var sessions: ConsoleSessions?

    package init(
        keys: any KeyStore, cache: KeyCache, calls: any CallLog, authority: AdminAuthority, budgets: BudgetBook, writer: CallLogWriter,
        secrets: SecretRoutes, governance: GovernanceRoutes, audit: AdminAudit,
        targets: DeliveryTargets, alerts: AlertRoutes
    ) {
        self.keys = keys
        self.cache = cache
        self.calls = calls
        self.authority = authority
        self.budgets = budgets
        self.writer = writer
        self.secrets = secrets
        self.governance = governance
        self.audit = audit
        self.targets = targets
        self.alerts = alerts
    }

    package func register(on router: Router<GatewayContext>) {
        let group = router.group("admin/v1")
        group.get("openapi.json") { _, _ in
            Self.json(status: .ok, bytes: Array(AdminOpenAPI.document.utf8))
        }
        let authenticated = group.group().add(middleware: AdminAuthMiddleware(authority: authority, sessions: sessions))
        if let sessions {
            SessionRoutes(sessions: sessions, authority: authority, audit: audit).register(open: group, authenticated: authenticated)
        }
        secrets.register(on: authenticated)
        governance.register(on: authenticated)
        alerts.register(on: authenticated)
        FingerprintRoutes(keys: keys, resolver: secrets.resolver).register(on: authenticated)
        authenticated.post("keys") { request, context in try await createKey(request, context: context) }
        authenticated.get("keys") { request, _ in
            let env = request.uri.queryParameters.get("env")
            return try Self.json(ListEnvelope(data: await views(try await keys.keys(env: env))))
        }
        authenticated.get("keys/:id") { _, context in
            let id = try context.parameters.require("id")
            guard let key = try await keys.key(id: id) else { throw GatewayError.notFound("No key with id '\(id)'.") }
            return try Self.json(await view(key))
        }
        authenticated.patch("keys/:id") { request, context in try await updateKey(request, context: context) }
        authenticated.delete("keys/:id") { request, context in
            let id = try context.parameters.require("id")
            guard let existing = try await keys.key(id: id) else { throw GatewayError.notFound("No key with id '\(id)'.") }
            guard let key = try await keys.revoke(id: id, at: Date()) else {
                throw GatewayError.notFound("No key with id '\(id)'.")
            }
            cache.store(key)
            if !existing.isRevoked {
                var details: [String: AuditValue] = ["env": .text(key.env), "name": .text(key.name)]
                if let reason = request.uri.queryParameters.get("reason") { details["reason"] = .text(String(reason.prefix(500))) }
                try await audit.record("key.revoke", target: id, details: details, request: request, context: context)
            }
            return try Self.json(await view(key))
        }
        CallRoutes(calls: calls).register(on: authenticated)
        CallStreamRoute(feed: writer.feed, sessions: sessions).register(on: authenticated)
    }

    private func createKey(_ request: Request, context: GatewayContext) async throws -> Response {
        let input = try await Self.decode(
            CreateKeyRequest.self, from: request, expecting: "'name' and 'env' (and optionally 'owner' and 'limits')")
        let policy = input.limits ?? .unrestricted
        try KeyPolicyValidation.validate(policy)
        let name = try AdminContract.label(input.name, field: "name", maximum: 128)
        guard AdminContract.environment.matches(input.env), TokenFormat.isValidEnvironment(input.env) else {
            throw GatewayError.invalidRequest(
                "'env' must be 1 to \(TokenFormat.maximumEnvironmentLength) lowercase letters, digits or '-', such as prod or staging.")
        }
        let owner = try AdminContract.optionalLabel(input.owner, field: "owner", maximum: 128)
        let schedule = try input.rotation?.schedule(targets: targets)
        var (key, secret) = VirtualKey.issue(name: name, env: input.env, owner: owner, policy: policy, now: Date())
        key.rotation = schedule
        if input.canary == true {
            guard input.limits == nil, schedule == nil else {
                throw GatewayError.invalidRequest("A canary key has no limits or rotation: it is never forwarded.")
            }
            key.isCanary = true
        }
        // The application reads its key from the delivery target from the first secret on.
        if let target = schedule?.deliverTo { try await targets.deliver(secret, to: target) }
        try await keys.insert(key)
        cache.store(key)
        if let claim = budgets.keyClaim(for: key) { await budgets.ledger.seed(claim, spent: .zero, at: Date()) }
        try await audit.record(
            "key.create", target: key.id,
            details: [
                "name": .text(key.name), "env": .text(key.env), "owner": key.owner.map(AuditValue.text) ?? .json("null"),
                "canary": .flag(key.isCanary),
                "limits": .json(try AuditJSON.policy(policy)),
                "rotation": .json(try AuditJSON.encode(key.rotation.map(RotationView.init))),
            ], request: request, context: context)
        var view = await view(key)
        view.key = secret.revealed
        return try Self.json(view, status: .created)
    }

    /// Changes a key's name, owner or limits; the change applies from the next request. Nothing is
    /// applied unless all of it is valid.
    private func updateKey(_ request: Request, context: GatewayContext) async throws -> Response {
        struct Update: Decodable {
            var name: String?
            var owner: String?
            var limits: KeyPolicyPatch?
            /// `{}` removes the schedule; absent leaves it.
            var rotation: RotationView?

            enum CodingKeys: String, CodingKey, CaseIterable { case name, owner, limits, rotation }

            init(from decoder: any Decoder) throws {
                try decoder.refuseUnknownKeys(of: CodingKeys.self)
                let c = try decoder.container(keyedBy: CodingKeys.self)
                name = try c.decodeIfPresent(String.self, forKey: .name)
                owner = try c.decodeIfPresent(String.self, forKey: .owner)
                limits = try c.decodeIfPresent(KeyPolicyPatch.self, forKey: .limits)
                rotation = try c.decodeIfPresent(RotationView.self, forKey: .rotation)
            }
        }
        let id = try context.parameters.require("id")
        let update = try await Self.decode(Update.self, from: request, expecting: "'name', 'owner', 'limits' or 'rotation'")
        guard let current = try await keys.key(id: id) else { throw GatewayError.notFound("No key with id '\(id)'.") }
        let policy = try update.limits?.applied(to: current.policy) ?? current.policy
        let schedule = try update.rotation.map { try $0.schedule(targets: targets) } ?? current.rotation
        let name = try update.name.map { text throws(GatewayError) in try AdminContract.label(text, field: "name", maximum: 128) }
        let owner = try AdminContract.optionalLabel(update.owner, field: "owner", maximum: 128)
        guard
            let updated = try await keys.update(
                id: id,
                { key in
                    if let name { key.name = name }
                    if update.owner != nil { key.owner = owner }
                    key.policy = policy
                    key.rotation = schedule
                })
        else { throw GatewayError.notFound("No key with id '\(id)'.") }
        cache.store(updated)
        if let claim = budgets.keyClaim(for: updated), updated.policy.budget != current.policy.budget {
            // The new budget starts from what the call log says this key spent in its period.
            await writer.flush()
            try await budgets.ledger.recover([claim], from: calls, at: Date())
        }
        try await audit.record(
            "key.update", target: id,
            details: [
                "before": .json(try AuditJSON.changeable(current)), "after": .json(try AuditJSON.changeable(updated)),
            ], request: request, context: context)
        return try Self.json(await view(updated))
    }

    /// The stored key with the cache's fresher `last_used_at` (the store catches up with each batch)
    /// and the state of its budgets.
    private func view(_ key: VirtualKey) async -> KeyView {
        await views([key])[0]
    }

    /// Each key with its latest use (the cache's, when newer than the store's) and its budgets, read at once.
    private func views(_ keys: [VirtualKey]) async -> [KeyView] {
        let keys = keys.map { key in
            var key = key
            if let cached = cache.key(for: key.digest), let used = cached.lastUsedAt, key.lastUsedAt.map({ $0 < used }) ?? true {
                key.lastUsedAt = used
            }
            return key
        }
        let now = Date()
        let statuses = await budgets.statuses(for: keys, at: now)
        return zip(keys, statuses).map { KeyView($0, budget: $1.key, environmentBudget: $1.environment, now: now) }
    }

    static func decode<Value: Decodable>(
        _ type: Value.Type, from request: Request, expecting: String, limit: Int = 64 << 10
    ) async throws -> Value {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: limit)
        } catch {
            throw GatewayError.bodyTooLarge(limit: limit)
        }
        do {
            return try JSONDecoder().decode(Value.self, from: Data(body.readableBytesView))
        } catch let error as DecodingError {
            throw GatewayError.invalidRequest("The body must be JSON with \(expecting): \(Self.describe(error))")
        } catch {
            throw GatewayError.invalidRequest("The body must be JSON with \(expecting).")
        }
    }

    /// A decoding error as one line naming the field.
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context): return "'\(path(context.codingPath + [key]))' is missing."
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "'\(path(context.codingPath))' has the wrong type."
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not valid JSON." : "'\(path(context.codingPath))': \(context.debugDescription)."
        @unknown default: return "not valid."
        }
    }

    /// A list route's `limit`: `fallback` when absent, an error naming the range when not a whole number in it.
    static func limit(_ text: String?, default fallback: Int, maximum: Int) throws -> Int {
        guard let text else { return fallback }
        guard text.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let value = Int(text), (1...maximum).contains(value) else {
            throw GatewayError.invalidRequest("'limit' must be a whole number from 1 to \(maximum).")
        }
        return value
    }

    static func since(_ text: String) throws -> Date {
        try AdminContract.since(text)
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return json(status: status, bytes: Array(try encoder.encode(value)))
    }

    static func json(status: HTTPResponse.Status, bytes: [UInt8]) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// JSON renderings of key settings for audit details.
enum AuditJSON {
    static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func policy(_ policy: KeyPolicy) throws -> String { try encode(policy) }

    /// What an update may change: name, owner, limits and rotation.
    static func changeable(_ key: VirtualKey) throws -> String {
        struct Changeable: Encodable {
            var name: String
            var owner: String?
            var limits: KeyPolicy
            var rotation: RotationView?

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(name, forKey: .name)
                try container.encode(owner, forKey: .owner)
                try container.encode(limits, forKey: .limits)
                try container.encode(rotation, forKey: .rotation)
            }

            enum CodingKeys: String, CodingKey { case name, owner, limits, rotation }
        }
        return try encode(Changeable(name: key.name, owner: key.owner, limits: key.policy, rotation: key.rotation.map(RotationView.init)))
    }
}
