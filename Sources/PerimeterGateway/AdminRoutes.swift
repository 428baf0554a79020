import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PerimeterCore
import PerimeterStorage

/// `/admin/v1`: keys, calls and spend, for the CLI and for automation. JSON in and out; errors in the
/// OpenAI shape; every request authenticated by an admin token; every change logged with who made it.
package struct AdminRoutes: Sendable {
    let keys: any KeyStore
    let cache: KeyCache
    let calls: any CallLog
    let authority: AdminAuthority
    let ledger: LocalLedger
    let writer: CallLogWriter
    let environmentBudgets: [String: Budget]
    let secrets: SecretRoutes

    package func register(on router: Router<GatewayContext>) {
        let group = router.group("admin/v1")
        group.get("openapi.json") { _, _ in
            Self.json(status: .ok, bytes: Array(AdminOpenAPI.document.utf8))
        }
        let authenticated = group.group().add(middleware: AdminAuthMiddleware(authority: authority))
        secrets.register(on: authenticated)
        FingerprintRoutes(keys: keys, resolver: secrets.resolver).register(on: authenticated)
        authenticated.post("keys") { request, context in try await createKey(request, context: context) }
        authenticated.get("keys") { request, _ in
            let env = request.uri.queryParameters.get("env")
            var views: [KeyView] = []
            for key in try await keys.keys(env: env) { views.append(await view(key)) }
            return try Self.json(ListEnvelope(data: views))
        }
        authenticated.get("keys/:id") { _, context in
            let id = try context.parameters.require("id")
            guard let key = try await keys.key(id: id) else { throw GatewayError.notFound("No key with id '\(id)'.") }
            return try Self.json(await view(key))
        }
        authenticated.patch("keys/:id") { request, context in try await updateKey(request, context: context) }
        authenticated.delete("keys/:id") { _, context in
            let id = try context.parameters.require("id")
            guard let key = try await keys.revoke(id: id, at: Date()) else {
                throw GatewayError.notFound("No key with id '\(id)'.")
            }
            cache.store(key)
            context.logger.notice(
                "admin: key revoked",
                metadata: ["perimeter.admin": "\(context.admin?.name ?? "?")", "perimeter.key.id": "\(key.id)"])
            return try Self.json(await view(key))
        }
        authenticated.get("calls") { request, _ in
            let query = request.uri.queryParameters
            var callQuery = CallQuery(keyID: query.get("key_id"), env: query.get("env"))
            if let since = query.get("since") { callQuery.since = try Self.since(since) }
            if let limit = query.get("limit") {
                guard let value = Int(limit), (1...10_000).contains(value) else {
                    throw GatewayError.invalidRequest("'limit' must be a whole number from 1 to 10000.")
                }
                callQuery.limit = value
            }
            return try Self.json(ListEnvelope(data: try await calls.calls(matching: callQuery)))
        }
        authenticated.get("spend") { request, _ in
            let query = request.uri.queryParameters
            var spendQuery = SpendQuery()
            if let group = query.get("group_by") {
                guard let grouping = SpendGrouping(rawValue: group) else {
                    throw GatewayError.invalidRequest("'group_by' must be one of key, env, model, owner.")
                }
                spendQuery.groupBy = grouping
            }
            if let since = query.get("since") { spendQuery.since = try Self.since(since) }
            let rows = try await calls.spend(spendQuery)
            return try Self.json(SpendReport(groupBy: spendQuery.groupBy, since: spendQuery.since, rows: rows))
        }
    }

    private func createKey(_ request: Request, context: GatewayContext) async throws -> Response {
        let input = try await Self.decode(
            CreateKeyRequest.self, from: request, expecting: "'name' and 'env' (and optionally 'owner' and 'limits')")
        let policy = input.limits ?? .unrestricted
        try KeyPolicyValidation.validate(policy)
        let name = input.name.trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty, name.count <= 128 else {
            throw GatewayError.invalidRequest("'name' must be 1 to 128 characters.")
        }
        guard TokenFormat.isValidEnvironment(input.env) else {
            throw GatewayError.invalidRequest(
                "'env' must be 1 to \(TokenFormat.maximumEnvironmentLength) lowercase letters, digits or '-', such as prod or staging.")
        }
        let owner = input.owner?.trimmingCharacters(in: .whitespaces)
        let (key, secret) = VirtualKey.issue(
            name: name, env: input.env, owner: owner?.isEmpty == false ? owner : nil, policy: policy, now: Date())
        try await keys.insert(key)
        cache.store(key)
        if let budget = policy.budget { ledger.seed(BudgetClaim(.key(key.id), budget), spent: .zero, at: Date()) }
        context.logger.notice(
            "admin: key created",
            metadata: [
                "perimeter.admin": "\(context.admin?.name ?? "?")", "perimeter.key.id": "\(key.id)", "perimeter.key.env": "\(key.env)",
            ])
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
        }
        let id = try context.parameters.require("id")
        let update = try await Self.decode(Update.self, from: request, expecting: "'name', 'owner' or 'limits'")
        guard let current = try await keys.key(id: id) else { throw GatewayError.notFound("No key with id '\(id)'.") }
        let policy = try update.limits?.applied(to: current.policy) ?? current.policy
        if let name = update.name, name.trimmingCharacters(in: .whitespaces).isEmpty || name.count > 128 {
            throw GatewayError.invalidRequest("'name' must be 1 to 128 characters.")
        }
        guard
            let updated = try await keys.update(
                id: id,
                { key in
                    if let name = update.name { key.name = name.trimmingCharacters(in: .whitespaces) }
                    if let owner = update.owner { key.owner = owner.isEmpty ? nil : owner }
                    key.policy = policy
                })
        else { throw GatewayError.notFound("No key with id '\(id)'.") }
        cache.store(updated)
        if let budget = updated.policy.budget, budget != current.policy.budget {
            // The new budget starts from what the call log says this key spent in its period.
            await writer.flush()
            try await ledger.recover([BudgetClaim(.key(id), budget)], from: calls, at: Date())
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let before = String(decoding: try encoder.encode(current.policy), as: UTF8.self)
        let after = String(decoding: try encoder.encode(updated.policy), as: UTF8.self)
        context.logger.notice(
            "admin: key updated",
            metadata: [
                "perimeter.admin": "\(context.admin?.name ?? "?")", "perimeter.key.id": "\(id)", "perimeter.limits.before": "\(before)",
                "perimeter.limits.after": "\(after)",
            ])
        return try Self.json(await view(updated))
    }

    /// The stored key with the cache's fresher `last_used_at` (the store catches up with each batch)
    /// and the state of its budgets.
    private func view(_ key: VirtualKey) async -> KeyView {
        var key = key
        if let cached = cache.key(for: key.digest), let used = cached.lastUsedAt,
            key.lastUsedAt.map({ $0 < used }) ?? true
        {
            key.lastUsedAt = used
        }
        let now = Date()
        var budget: BudgetStatus?
        if let limit = key.policy.budget { budget = await ledger.status(of: BudgetClaim(.key(key.id), limit), at: now) }
        var environment: BudgetStatus?
        if let limit = environmentBudgets[key.env] {
            environment = await ledger.status(of: BudgetClaim(.environment(key.env), limit), at: now)
        }
        return KeyView(key, budget: budget, environmentBudget: environment, now: now)
    }

    static func decode<Value: Decodable>(_ type: Value.Type, from request: Request, expecting: String) async throws -> Value {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: 64 << 10)
        } catch {
            throw GatewayError.bodyTooLarge(limit: 64 << 10)
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

    static func since(_ text: String) throws -> Date {
        guard let date = TimeWindow.start(text) else {
            throw GatewayError.invalidRequest("'since' must be a duration such as 15m, 1h, 30d, or an RFC 3339 time.")
        }
        return date
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

/// Lets through requests with a valid admin token; a `viewer` may only read.
struct AdminAuthMiddleware: RouterMiddleware {
    typealias Context = GatewayContext
    let authority: AdminAuthority

    func handle(_ request: Request, context: GatewayContext, next: (Request, GatewayContext) async throws -> Response) async throws
        -> Response
    {
        var context = context
        let presented = request.headers[.authorization].flatMap { value -> String? in
            let parts = value.split(separator: " ", maxSplits: 1)
            return parts.count == 2 && parts[0].lowercased() == "bearer" ? String(parts[1]) : nil
        }
        guard let admin = authority.authenticate(presented) else { throw GatewayError.unauthorizedAdmin }
        if admin.role == .viewer, request.method != .get {
            throw GatewayError.forbidden("This admin token has the viewer role and may only read.")
        }
        context.admin = admin
        context.logger[metadataKey: "perimeter.admin"] = .string(admin.name)
        return try await next(request, context)
    }
}
