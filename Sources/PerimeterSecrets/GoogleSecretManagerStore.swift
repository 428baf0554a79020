import Foundation
import PerimeterCore
import Synchronization

/// `gcp-sm:projects/P/secrets/S[/versions/V]`: a secret version of Google Cloud's Secret Manager over
/// its REST API (v1), with a bearer token for the ``GoogleCredentials`` (renewed by
/// ``AccessTokenState``).
///
/// Wire format (Google's REST reference, `projects.secrets.versions.access`, `.get` and
/// `projects.secrets.addVersion`):
/// - `GET /v1/projects/P/secrets/S/versions/V:access` answers `{"name":
///   "projects/NUMBER/secrets/S/versions/7", "payload": {"data": BASE64, "dataCrc32c": "DECIMAL"}}`;
///   the CRC32C (Castagnoli) of the data is always there, and a payload that does not match it is refused.
/// - `GET /v1/projects/P/secrets/S/versions/7` answers the version's `createTime` (RFC 3339); it needs
///   `secretmanager.versions.get`, which the Secret Accessor role lacks, so without it no date is shown.
/// - `POST /v1/projects/P/secrets/S:addVersion` with `{"payload": {"data", "dataCrc32c"}}` adds a
///   version (which becomes `latest`) and answers it.
/// - Errors are `{"error": {"code": 404, "message": "...", "status": "NOT_FOUND"}}`; a disabled or
///   destroyed version is a 400 `FAILED_PRECONDITION`.
public struct GoogleSecretManagerStore: WritableSecretStore {
    public static let defaultEndpoint = URL(string: "https://secretmanager.googleapis.com")!

    private let credentials: GoogleCredentials
    private let tokens: RenewingToken
    private let transport: any SecretHTTPTransport
    private let endpoint: URL
    private let created = CreationTimes()

    public init(
        credentials: GoogleCredentials, transport: any SecretHTTPTransport, endpoint: URL? = nil,
        now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.credentials = credentials
        self.transport = transport
        self.endpoint = endpoint ?? Self.defaultEndpoint
        tokens = RenewingToken(now: now) { requestedAt in try await credentials.token(transport: transport, now: requestedAt) }
    }

    public func fetch(_ reference: SecretReference) async throws -> FetchedSecret {
        let location = try self.location(reference)
        let response = try await send("GET", "\(location.secretName)/versions/\(location.version):access", body: [], reference)
        guard response.status == 200 else { throw Self.failure(response, reference, location) }
        let answer = JSONValue.object(response.body) ?? [:]
        let payload = answer["payload"] as? [String: Any] ?? [:]
        guard let encoded = payload["data"] as? String, let data = Data(base64Encoded: encoded) else {
            throw SecretStoreError.unreadable(reference, reason: "Secret Manager's answer has no payload data in base64")
        }
        guard let checksum = (payload["dataCrc32c"] as? String).flatMap(Int64.init) ?? (payload["dataCrc32c"] as? NSNumber)?.int64Value
        else { throw SecretStoreError.unreadable(reference, reason: "Secret Manager's answer has no payload dataCrc32c") }
        guard checksum == Int64(CRC32.castagnoli.checksum(data)) else {
            throw SecretStoreError.unreadable(
                reference, reason: "the payload does not match its CRC32C checksum (corrupted on the way); it was not used")
        }
        guard let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else {
            throw SecretStoreError.unreadable(reference, reason: "the payload is empty or not UTF-8 text")
        }
        let name = answer["name"] as? String
        var createdAt: Date?
        if let name, Self.isVersionName(name) { createdAt = await creationTime(of: name, reference) }
        return FetchedSecret(Secret(text), version: name.flatMap(Self.version(of:)), createdAt: createdAt)
    }

    /// addVersion: a new version of the secret, which becomes `latest`; answers its number.
    public func write(_ secret: Secret, to reference: SecretReference) async throws -> String? {
        let location = try self.location(reference)
        guard location.pinnedVersion == nil else {
            throw SecretStoreError.unreadable(
                reference, reason: "delivery into Secret Manager needs gcp-sm:projects/P/secrets/S without a version: each write adds one")
        }
        let data = Data(secret.revealed.utf8)
        let body = JSONValue.encode([
            "payload": ["data": data.base64EncodedString(), "dataCrc32c": String(CRC32.castagnoli.checksum(data))]
        ])
        let response = try await send("POST", "\(location.secretName):addVersion", body: body, reference)
        guard response.status == 200 else { throw Self.failure(response, reference, location) }
        return (JSONValue.object(response.body)?["name"] as? String).flatMap(Self.version(of:))
    }

    private func location(_ reference: SecretReference) throws -> SecretReference.GoogleSecret {
        guard let location = reference.googleSecret else {
            throw SecretStoreError.unreadable(reference, reason: "write gcp-sm:projects/PROJECT/secrets/SECRET[/versions/VERSION]")
        }
        return location
    }

    /// The version number at the end of `projects/N/secrets/S/versions/7`.
    static func version(of name: String) -> String? {
        let parts = name.split(separator: "/")
        guard parts.count == 6, parts[4] == "versions" else { return nil }
        return String(parts[5])
    }

    private static func isVersionName(_ name: String) -> Bool {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        return parts.count == 6 && parts[0] == "projects" && parts[2] == "secrets" && parts[4] == "versions"
            && SecretReference.isValidGoogleProject(String(parts[1])) && SecretReference.isValidGoogleSecretID(String(parts[3]))
            && parts[5].allSatisfy(\.isNumber) && !parts[5].isEmpty
    }

    /// The version's `createTime`, asked once per version; nil when it cannot be read (no
    /// `versions.get` permission), which is then not asked again.
    private func creationTime(of name: String, _ reference: SecretReference) async -> Date? {
        if let known = created.times.withLock({ $0[name] }) { return known }
        var date: Date?
        if let response = try? await send("GET", name, body: [], reference) {
            date = response.status == 200 ? (JSONValue.object(response.body)?["createTime"] as? String).flatMap(Timestamp.parse) : nil
            // A refusal is remembered; an outage is asked again next time.
            if response.status < 500 { created.times.withLock { $0[name] = .some(date) } }
        }
        return date
    }

    /// One call with a bearer token; a 401 (a token revoked early, or clocks that disagree) is tried
    /// once more with a new token.
    private func send(_ method: String, _ path: String, body: [UInt8], _ reference: SecretReference) async throws -> SecretHTTPResponse {
        var base = endpoint.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        let url = URL(string: "\(base)/v1/\(path)")!
        return try await transport.sendWithBearer(
            method, url, body: body, bearer: { try await bearer(reference) }, refused: { await tokens.refused($0) },
            unreachable: { SecretStoreError.unreachable(reference, reason: "cannot reach Secret Manager at \(base) (\($0))") })
    }

    private func bearer(_ reference: SecretReference) async throws -> Secret {
        do {
            return try await tokens.token()
        } catch let failure as GoogleTokenFailure {
            let reason = "no token for Secret Manager as \(credentials.identity): \(failure)"
            throw failure.isTransient ? SecretStoreError.unreachable(reference, reason: reason) : .unreadable(reference, reason: reason)
        } catch {
            throw SecretStoreError.unreadable(reference, reason: "no token for Secret Manager as \(credentials.identity) (\(error))")
        }
    }

    /// What Secret Manager's error says, as a store error: gone, refused, or away for a while.
    static func failure(
        _ response: SecretHTTPResponse, _ reference: SecretReference, _ location: SecretReference.GoogleSecret
    ) -> SecretStoreError {
        let error = JSONValue.object(response.body)?["error"] as? [String: Any]
        let status = error?["status"] as? String ?? ""
        let message = (error?["message"] as? String).map { String($0.prefix(300)) } ?? ""
        let detail = "Secret Manager answered \(response.status)" + ([status, message].filter { !$0.isEmpty }.map { ": " + $0 }.joined())
        switch response.status {
        case 404:
            return .notFound(reference, hint: "\(location.secretName) has no version \(location.version)")
        case 400 where status == "FAILED_PRECONDITION":
            return .unreadable(reference, reason: "\(detail) (the version is disabled or destroyed)")
        case 401:
            return .unreadable(reference, reason: "\(detail) (the token was refused)")
        case 403:
            return .unreadable(
                reference,
                reason: "\(detail) (the identity needs roles/secretmanager.secretAccessor on the secret, or secretVersionAdder to deliver)")
        case 429, 500...:
            return .unreachable(reference, reason: detail)
        default:
            return .unreadable(reference, reason: detail)
        }
    }
}

/// Creation times by version resource name, read once per version (nil: not readable).
private final class CreationTimes: Sendable {
    let times = Mutex<[String: Date?]>([:])
}
