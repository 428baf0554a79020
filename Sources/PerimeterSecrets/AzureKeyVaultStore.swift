import Foundation
import PerimeterCore

/// `azure-kv:VAULT/SECRET[/VERSION]`: a secret of Azure Key Vault over its REST API, with a bearer
/// token from Microsoft Entra ID for `https://vault.azure.net/.default` (client credentials, workload
/// identity or a managed identity: ``EntraGrant``).
///
/// Wire format (Microsoft's REST reference, "Get Secret" and "Set Secret", Key Vault data plane):
/// - `GET {vault}/secrets/{name}/{version}?api-version=7.4`; without a version, the latest. The
///   answer is a SecretBundle: `{"value": "...", "id": "https://{vault}/secrets/{name}/{version}",
///   "attributes": {"enabled": true, "created": 1700000000, "updated": 1700000000, ...}}` (dates in
///   Unix seconds).
/// - `PUT {vault}/secrets/{name}?api-version=7.4` with `{"value": "..."}` adds a new version and
///   answers the same bundle.
/// - Errors are `{"error": {"code": "SecretNotFound", "message": "...", "innererror": {"code": ...}}}`;
///   reading a disabled version is a 403 whose inner code is `SecretDisabled`.
public struct AzureKeyVaultStore: WritableSecretStore {
    /// 7.4 is generally available in every cloud, and the shapes read here are the same in later versions.
    public static let apiVersion = "7.4"
    public static let scope = "https://vault.azure.net/.default"

    private let tokens: EntraClientCredentials
    private let transport: any SecretHTTPTransport
    /// Replaces `https://VAULT.vault.azure.net` (a test double, a proxy); nil: the vault's own host.
    private let endpoint: URL?

    public init(tokens: EntraClientCredentials, transport: any SecretHTTPTransport, endpoint: URL? = nil) {
        self.tokens = tokens
        self.transport = transport
        self.endpoint = endpoint
    }

    public func fetch(_ reference: SecretReference) async throws -> FetchedSecret {
        let location = try self.location(reference)
        let path = "secrets/\(location.name)" + (location.version.map { "/" + $0 } ?? "")
        let response = try await send("GET", path, in: location, body: [], reference)
        guard response.status == 200 else { throw Self.failure(response, reference, location) }
        let bundle = JSONValue.object(response.body) ?? [:]
        let attributes = bundle["attributes"] as? [String: Any] ?? [:]
        guard attributes["enabled"] as? Bool != false else {
            throw SecretStoreError.unreadable(reference, reason: "the secret version is disabled in Key Vault")
        }
        guard let value = bundle["value"] as? String, !value.isEmpty else {
            throw SecretStoreError.unreadable(reference, reason: "Key Vault's answer has no value (or an empty one)")
        }
        func date(_ key: String) -> Date? { (attributes[key] as? NSNumber).map { Date(timeIntervalSince1970: $0.doubleValue) } }
        return FetchedSecret(Secret(value), version: Self.version(of: bundle), createdAt: date("created"), updatedAt: date("updated"))
    }

    /// The client secret, if any, is read again every `cache_ttl` (the token itself renews on demand).
    public func maintain() async {
        await tokens.refreshClientSecret()
    }

    /// Set Secret: a new version of the secret (created if it does not exist), which becomes the latest.
    public func write(_ secret: Secret, to reference: SecretReference) async throws -> String? {
        let location = try self.location(reference)
        guard location.version == nil else {
            throw SecretStoreError.unreadable(
                reference, reason: "delivery into Key Vault needs azure-kv:VAULT/SECRET without a version: each write adds one")
        }
        let body = JSONValue.encode(["value": secret.revealed])
        let response = try await send("PUT", "secrets/\(location.name)", in: location, body: body, reference)
        guard response.status == 200 else { throw Self.failure(response, reference, location) }
        return Self.version(of: JSONValue.object(response.body) ?? [:])
    }

    private func location(_ reference: SecretReference) throws -> SecretReference.AzureKeyVaultSecret {
        guard let location = reference.azureKeyVault else {
            throw SecretStoreError.unreadable(reference, reason: "write azure-kv:VAULT/SECRET[/VERSION]")
        }
        return location
    }

    /// The last path segment of the bundle's `id`.
    private static func version(of bundle: [String: Any]) -> String? {
        (bundle["id"] as? String).flatMap { URL(string: $0)?.lastPathComponent }.flatMap { $0.count == 32 ? $0 : nil }
    }

    /// One call with a bearer token; a 401 (a token revoked early, or clocks that disagree) is tried
    /// once more with a new token.
    private func send(
        _ method: String, _ path: String, in location: SecretReference.AzureKeyVaultSecret, body: [UInt8], _ reference: SecretReference
    ) async throws -> SecretHTTPResponse {
        var base = (endpoint ?? URL(string: "https://\(location.vaultHost)")!).absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        let url = URL(string: "\(base)/\(path)?api-version=\(Self.apiVersion)")!
        return try await transport.sendWithBearer(
            method, url, body: body, bearer: { try await bearer(reference) }, refused: { await tokens.refused($0) },
            unreachable: { SecretStoreError.unreachable(reference, reason: "cannot reach Key Vault at \(base) (\($0))") })
    }

    private func bearer(_ reference: SecretReference) async throws -> Secret {
        do {
            return try await tokens.token()
        } catch let failure as EntraTokenFailure {
            throw failure.isTransient
                ? SecretStoreError.unreachable(reference, reason: "no token for Key Vault: \(failure)")
                : SecretStoreError.unreadable(reference, reason: "no token for Key Vault: \(failure)")
        } catch let unavailable as SecretUnavailable {
            throw SecretStoreError.unreadable(
                reference, reason: "no token for Key Vault: the client secret \(unavailable.reference) is unavailable")
        } catch {
            throw SecretStoreError.unreachable(reference, reason: "cannot reach Entra ID for a Key Vault token (\(error))")
        }
    }

    /// What Key Vault's error says, as a store error: gone, refused, or away for a while.
    static func failure(
        _ response: SecretHTTPResponse, _ reference: SecretReference, _ location: SecretReference.AzureKeyVaultSecret
    ) -> SecretStoreError {
        let error = JSONValue.object(response.body)?["error"] as? [String: Any]
        let code = error?["code"] as? String ?? ""
        let inner = (error?["innererror"] as? [String: Any])?["code"] as? String ?? ""
        let message = (error?["message"] as? String).map { String($0.prefix(300)) } ?? ""
        let detail = "Key Vault answered \(response.status)" + ([code, inner, message].filter { !$0.isEmpty }.map { ": " + $0 }.joined())
        switch response.status {
        case 404:
            return .notFound(
                reference, hint: "\(location.vaultHost) has no secret '\(location.name)'\(location.version.map { " version \($0)" } ?? "")")
        case 403 where inner == "SecretDisabled" || message.lowercased().contains("disabled"):
            return .unreadable(reference, reason: "the secret version is disabled in Key Vault")
        case 401:
            return .unreadable(reference, reason: "\(detail) (the token was refused: check the identity's tenant and the vault's)")
        case 403:
            return .unreadable(
                reference, reason: "\(detail) (the identity needs the Key Vault Secrets User role, or get and set access policies)")
        case 429, 500...:
            return .unreachable(reference, reason: detail)
        default:
            return .unreadable(reference, reason: detail)
        }
    }
}
