import Foundation
import PerimeterCore

/// How the gateway reaches Vault (or OpenBao).
public struct VaultConfiguration: Sendable {
    public enum Auth: Sendable {
        /// A fixed token (`VAULT_TOKEN`), used as it is.
        case token(Secret)
        /// AppRole: the gateway logs in with `role_id` and `secret_id` and renews its token before
        /// the token's lease ends.
        case appRole(mount: String, roleID: String, secretID: Secret)
        /// The JWT/OIDC or Kubernetes auth method: the gateway logs in with `role` and the JWT read
        /// from `tokenFile` (a Kubernetes service-account token, which the kubelet rotates, so it is
        /// read again at each login), and renews its token as with AppRole.
        case jwt(mount: String, role: String, tokenFile: String)

        /// Whether the gateway logs in (and so can log in again) rather than holding a fixed token.
        var logsIn: Bool {
            if case .token = self { return false }
            return true
        }
    }

    /// For example `https://vault.internal:8200`.
    public var address: URL
    /// Sent as `X-Vault-Namespace` (Vault Enterprise and OpenBao namespaces).
    public var namespace: String?
    public var auth: Auth

    public init(address: URL, namespace: String?, auth: Auth) {
        self.address = address
        self.namespace = namespace
        self.auth = auth
    }
}

/// `vault:MOUNT/PATH#FIELD`: a field of a KV version 2 secret, read with
/// `GET /v1/MOUNT/data/PATH`; the value is `data.data.FIELD` and its version `data.metadata.version`.
/// Without `#FIELD`, a secret with exactly one field gives that field.
public actor VaultSecretStore: WritableSecretStore {
    private let configuration: VaultConfiguration
    private let transport: any SecretHTTPTransport
    private let now: @Sendable () -> ContinuousClock.Instant

    private struct Login {
        var token: Secret
        var obtained: ContinuousClock.Instant
        /// Zero for a token that does not expire.
        var lease: Duration
        var renewable: Bool
    }

    private var login: Login?
    /// The login in flight, which every caller awaits instead of logging in again (the actor is reentrant).
    private var loggingIn: Task<Login, any Error>?
    /// When a 403 last made the store log in again; at most once a minute, so a policy that denies
    /// access does not mint a token every few seconds.
    private var lastForcedLogin: ContinuousClock.Instant?

    public init(
        configuration: VaultConfiguration, transport: any SecretHTTPTransport,
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        self.configuration = configuration
        self.transport = transport
        self.now = now
    }

    public func fetch(_ reference: SecretReference) async throws -> FetchedSecret {
        let location = reference.location
        guard let slash = location.firstIndex(of: "/") else {
            throw SecretStoreError.unreadable(reference, reason: "write vault:MOUNT/PATH#FIELD")
        }
        let mount = location[..<slash]
        let path = location[location.index(after: slash)...]
        let url = endpoint("v1/\(mount)/data/\(path)")
        let used = try await token(for: reference)
        var response = try await send(reference, method: "GET", url: url, token: used)
        if response.status == 403, configuration.auth.logsIn,
            lastForcedLogin.map({ now() >= $0 + .seconds(60) }) ?? true
        {
            // The token may have been revoked or expired early: log in again, once, unless another
            // caller already replaced it.
            lastForcedLogin = now()
            if login?.token == used { login = nil }
            response = try await send(reference, method: "GET", url: url, token: try await token(for: reference))
        }
        switch response.status {
        case 200:
            break
        case 404:
            throw SecretStoreError.notFound(reference, hint: "Vault has no secret at \(mount)/\(path) (KV version 2)")
        case 403:
            throw SecretStoreError.unreadable(
                reference, reason: "Vault denied access (403): check the token's policy allows read on \(mount)/data/\(path)")
        default:
            throw Self.failure(reference, response)
        }
        guard let root = JSONValue.object(response.body), let data = root["data"] as? [String: Any],
            let fields = data["data"] as? [String: Any]
        else {
            throw SecretStoreError.unreadable(reference, reason: "Vault's answer has no data.data; is \(mount) a KV version 2 mount?")
        }
        let value: Any?
        if let field = reference.field {
            value = fields[field]
            guard value != nil else {
                throw SecretStoreError.notFound(
                    reference, hint: "the secret has no field '\(field)'; its fields are \(fields.keys.sorted().joined(separator: ", "))")
            }
        } else {
            guard fields.count == 1 else {
                throw SecretStoreError.unreadable(
                    reference,
                    reason: "the secret has \(fields.count) fields (\(fields.keys.sorted().joined(separator: ", "))); name one with #FIELD")
            }
            value = fields.values.first
        }
        guard let text = value as? String, !text.isEmpty else {
            throw SecretStoreError.unreadable(reference, reason: "the field is empty or not a string")
        }
        let metadata = data["metadata"] as? [String: Any]
        let version = (metadata?["version"] as? NSNumber).map { $0.stringValue }
        let created = (metadata?["created_time"] as? String).flatMap { Self.date($0) }
        return FetchedSecret(Secret(text), version: version, createdAt: created)
    }

    /// Sets one field of a KV version 2 secret, keeping its other fields, with check-and-set on the
    /// version read, so a concurrent writer is detected instead of overwritten.
    public func write(_ secret: Secret, to reference: SecretReference) async throws -> String? {
        let location = reference.location
        guard let field = reference.field, let slash = location.firstIndex(of: "/") else {
            throw SecretStoreError.unreadable(reference, reason: "delivery into Vault needs vault:MOUNT/PATH#FIELD")
        }
        let mount = location[..<slash]
        let path = location[location.index(after: slash)...]
        let url = endpoint("v1/\(mount)/data/\(path)")
        let token = try await token(for: reference)
        let current = try await send(reference, method: "GET", url: url, token: token)
        var fields: [String: Any] = [:]
        var version = 0
        switch current.status {
        case 200:
            let data = JSONValue.object(current.body)?["data"] as? [String: Any]
            fields = data?["data"] as? [String: Any] ?? [:]
            version = ((data?["metadata"] as? [String: Any])?["version"] as? NSNumber)?.intValue ?? 0
        case 404:
            break
        default:
            throw Self.failure(reference, current)
        }
        fields[field] = secret.revealed
        let body = (try? JSONSerialization.data(withJSONObject: ["data": fields, "options": ["cas": version]])) ?? Data()
        let response = try await send(reference, method: "POST", url: url, token: token, body: [UInt8](body))
        guard response.status == 200 || response.status == 204 else {
            if response.status == 403 {
                throw SecretStoreError.unreadable(
                    reference, reason: "Vault denied the write (403): the token's policy needs create and update on \(mount)/data/\(path)")
            }
            throw Self.failure(reference, response)
        }
        let written = JSONValue.object(response.body)?["data"] as? [String: Any]
        return (written?["version"] as? NSNumber)?.stringValue
    }

    /// Renews the token when two thirds of its lease have passed; with AppRole or a JWT, logs in again
    /// when renewal fails or is not allowed. A fixed token (`VAULT_TOKEN`) is looked up once
    /// (`lookup-self`) and renewed the same way while Vault lets it; it cannot log in again.
    public func maintain() async {
        if case .token(let token) = configuration.auth, login == nil {
            guard
                let response = try? await transport.send(
                    SecretHTTPRequest(method: "GET", url: endpoint("v1/auth/token/lookup-self"), headers: headers(token: token))),
                response.status == 200, let data = JSONValue.object(response.body)?["data"] as? [String: Any]
            else { return }
            let ttl = (data["ttl"] as? NSNumber)?.int64Value ?? 0
            login = Login(token: token, obtained: now(), lease: .seconds(ttl), renewable: (data["renewable"] as? Bool) ?? false)
        }
        guard let current = login, current.lease > .zero else { return }
        guard now() >= current.obtained + current.lease * 2 / 3 else { return }
        if current.renewable,
            let response = try? await transport.send(
                SecretHTTPRequest(
                    method: "POST", url: endpoint("v1/auth/token/renew-self"), headers: headers(token: current.token),
                    body: Array("{}".utf8))),
            response.status == 200, let renewed = Self.auth(response.body), renewed.lease > .zero
        {
            // Vault caps renewals at the token's max TTL: once the lease shrinks, a fresh login is due.
            if renewed.lease >= current.lease / 2 {
                if login?.token == current.token {
                    login = Login(token: current.token, obtained: now(), lease: renewed.lease, renewable: renewed.renewable)
                }
                return
            }
        }
        // A fixed token cannot log in: once Vault stops extending it (its max TTL), it serves until it expires.
        guard configuration.auth.logsIn else {
            login = Login(token: current.token, obtained: current.obtained, lease: .zero, renewable: false)
            return
        }
        // The current token stays in use until the new login succeeds.
        _ = try? await freshLogin()
    }

    private func token(for reference: SecretReference) async throws -> Secret {
        switch configuration.auth {
        case .token(let token):
            return token
        case .appRole, .jwt:
            if let login, login.lease == .zero || now() < login.obtained + login.lease {
                return login.token
            }
            do {
                return try await freshLogin().token
            } catch let error as SecretStoreError {
                throw error
            } catch {
                throw SecretStoreError.unreachable(reference, reason: "Vault login failed: \(error)")
            }
        }
    }

    /// One AppRole login at a time; callers that arrive meanwhile share its result.
    private func freshLogin() async throws -> Login {
        if let loggingIn { return try await loggingIn.value }
        let task = Task { try await self.methodLogin() }
        loggingIn = task
        defer { loggingIn = nil }
        let fresh = try await task.value
        login = fresh
        return fresh
    }

    /// A login with the configured method: AppRole's `role_id` and `secret_id`, or a role and a JWT.
    private func methodLogin() async throws -> Login {
        let mount: String
        let body: [UInt8]
        let check: String
        switch configuration.auth {
        case .token: preconditionFailure("a fixed token does not log in")
        case .appRole(let appRoleMount, let roleID, let secretID):
            (mount, check) = (appRoleMount, "AppRole login")
            body = JSONValue.encode(["role_id": roleID, "secret_id": secretID.revealed])
        case .jwt(let jwtMount, let role, let tokenFile):
            (mount, check) = (jwtMount, "\(jwtMount) login as role \(role)")
            guard let data = FileManager.default.contents(atPath: tokenFile), !data.isEmpty else {
                throw SecretStoreError.unreachable(
                    SecretReference(scheme: "vault", path: "auth/\(jwtMount)/login"), reason: "cannot read the JWT file \(tokenFile)")
            }
            let jwt = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            body = JSONValue.encode(["role": role, "jwt": jwt])
        }
        let reference = SecretReference(scheme: "vault", path: "auth/\(mount)/login")
        let response = try await send(
            reference, method: "POST", url: endpoint("v1/auth/\(mount)/login"), token: nil, body: body)
        guard response.status == 200 else {
            if response.status == 400 || response.status == 403 {
                throw SecretStoreError.unreadable(
                    reference, reason: "Vault refused the \(check) (\(response.status)): check its role and credentials")
            }
            throw Self.failure(reference, response)
        }
        guard let auth = Self.auth(response.body) else {
            throw SecretStoreError.unreadable(reference, reason: "Vault's login answer has no auth.client_token")
        }
        return Login(token: auth.token, obtained: now(), lease: auth.lease, renewable: auth.renewable)
    }

    private static func auth(_ body: [UInt8]) -> (token: Secret, lease: Duration, renewable: Bool)? {
        guard let auth = JSONValue.object(body)?["auth"] as? [String: Any], let token = auth["client_token"] as? String else {
            return nil
        }
        let lease = (auth["lease_duration"] as? NSNumber)?.int64Value ?? 0
        return (Secret(token), .seconds(lease), (auth["renewable"] as? Bool) ?? false)
    }

    private func send(
        _ reference: SecretReference, method: String, url: URL, token: Secret?, body: [UInt8] = []
    ) async throws -> SecretHTTPResponse {
        do {
            return try await transport.send(SecretHTTPRequest(method: method, url: url, headers: headers(token: token), body: body))
        } catch {
            throw SecretStoreError.unreachable(
                reference, reason: "cannot reach Vault at \(configuration.address.absoluteString) (\(error))")
        }
    }

    private func headers(token: Secret?) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = [("Accept", "application/json")]
        if let token { headers.append(("X-Vault-Token", token.revealed)) }
        if let namespace = configuration.namespace, !namespace.isEmpty { headers.append(("X-Vault-Namespace", namespace)) }
        return headers
    }

    private func endpoint(_ path: String) -> URL {
        var base = configuration.address.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        let encoded = path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? path
        return URL(string: base + "/" + encoded)!
    }

    /// A 5xx, 429 or unexpected answer: Vault sealed, on standby or overloaded.
    static func failure(_ reference: SecretReference, _ response: SecretHTTPResponse) -> SecretStoreError {
        let errors = (JSONValue.object(response.body)?["errors"] as? [String])?.joined(separator: "; ") ?? ""
        let detail = "Vault answered \(response.status)\(errors.isEmpty ? "" : ": \(errors)")"
        return response.status >= 500 || response.status == 429
            ? .unreachable(reference, reason: detail) : .unreadable(reference, reason: detail)
    }

    static func date(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}
