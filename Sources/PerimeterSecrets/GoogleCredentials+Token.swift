import Foundation
import PerimeterCore

/// The requests that turn ``GoogleCredentials`` into an access token, each as Google documents it:
///
/// - Service account ("Using OAuth 2.0 for Server to Server Applications"; RFC 7523): a JWT with
///   header `{"alg": "RS256", "typ": "JWT", "kid": private_key_id}` and claims `iss` (the client
///   email), `scope`, `aud` (the token URI), `iat` and `exp` (an hour later), signed with the key;
///   `POST token_uri` with the form `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=JWT`.
/// - External account (Security Token Service `v1/token`, RFC 8693): `POST token_url` with the form
///   `grant_type=urn:ietf:params:oauth:grant-type:token-exchange`, `audience`, `scope`,
///   `requested_token_type=urn:ietf:params:oauth:token-type:access_token`, `subject_token` (the file's
///   token) and `subject_token_type`; then, with `service_account_impersonation_url`, `POST` it with the
///   STS token as bearer and `{"scope": [...], "lifetime": "3600s"}`, answered `{"accessToken",
///   "expireTime"}` (RFC 3339).
/// - Metadata server: `GET http://HOST/computeMetadata/v1/instance/service-accounts/default/token`
///   with `Metadata-Flavor: Google`.
///
/// OAuth, STS and the metadata server answer `{"access_token", "expires_in", "token_type": "Bearer"}`;
/// OAuth and STS refuse with `{"error", "error_description"}`, IAM with `{"error": {"code", "message",
/// "status"}}`. A refusal's text never holds the assertion, the subject token or a token.
extension GoogleCredentials {
    /// A token for `cloud-platform`, for a request sent at `now`, and its lifetime in seconds.
    func token(transport: any SecretHTTPTransport, now: Date) async throws -> (Secret, TimeInterval) {
        let scope = Self.cloudPlatformScope
        switch self {
        case .serviceAccount(let account):
            let issuedAt = Int(now.timeIntervalSince1970)
            let assertion = try account.signer.sign(
                header: ["kid": account.keyID],
                claims: [
                    "iss": account.clientEmail, "scope": scope, "aud": account.tokenURL.absoluteString, "iat": issuedAt,
                    "exp": issuedAt + 3600,
                ])
            let form = [("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", assertion)]
            let answer = try await Self.send(.form(account.tokenURL, form), "Google's OAuth token endpoint", transport)
            return try Self.accessToken(answer, from: "Google's OAuth token endpoint")
        case .externalAccount(let account):
            let subject = try account.subjectToken()
            let form = [
                ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"), ("audience", account.audience), ("scope", scope),
                ("requested_token_type", "urn:ietf:params:oauth:token-type:access_token"), ("subject_token", subject.revealed),
                ("subject_token_type", account.subjectTokenType),
            ]
            let exchanged = try Self.accessToken(
                try await Self.send(.form(account.tokenURL, form), "Google's Security Token Service", transport),
                from: "Google's Security Token Service")
            guard let impersonation = account.impersonationURL else { return exchanged }
            let body = JSONValue.encode(["scope": [scope], "lifetime": "3600s"])
            let request = SecretHTTPRequest(
                method: "POST", url: impersonation,
                headers: [("Authorization", "Bearer \(exchanged.0.revealed)"), ("Content-Type", "application/json")], body: body)
            let answer = try await Self.send(request, "IAM generateAccessToken", transport)
            guard let token = answer["accessToken"] as? String, !token.isEmpty,
                let expiry = (answer["expireTime"] as? String).flatMap(Timestamp.parse)
            else { throw GoogleTokenFailure(description: "IAM generateAccessToken answered without accessToken and expireTime") }
            // An absolute expiry read against a local clock: never counted as more than the hour asked for.
            return (Secret(token), min(3600, expiry.timeIntervalSince(now)))
        case .metadataServer(let base):
            let url = base.appendingPathComponent("computeMetadata/v1/instance/service-accounts/default/token")
            let request = SecretHTTPRequest(method: "GET", url: url, headers: [("Metadata-Flavor", "Google")])
            return try Self.accessToken(try await Self.send(request, "the metadata server", transport), from: "the metadata server")
        }
    }

    static func accessToken(_ answer: [String: Any], from what: String) throws -> (Secret, TimeInterval) {
        guard let token = answer["access_token"] as? String, !token.isEmpty else {
            throw GoogleTokenFailure(description: "\(what) answered without an access_token")
        }
        let lifetime = (answer["expires_in"] as? NSNumber)?.doubleValue ?? (answer["expires_in"] as? String).flatMap(Double.init) ?? 3600
        return (Secret(token), lifetime)
    }

    /// One request; a refusal as a ``GoogleTokenFailure`` saying what the service said.
    static func send(_ request: SecretHTTPRequest, _ what: String, _ transport: any SecretHTTPTransport) async throws -> [String: Any] {
        let response: SecretHTTPResponse
        do {
            response = try await transport.send(request)
        } catch {
            throw GoogleTokenFailure(description: "cannot reach \(what) at \(request.url.host ?? "") (\(error))", isTransient: true)
        }
        let object = JSONValue.object(response.body)
        guard response.status == 200, let object else {
            var detail = "status \(response.status)"
            if let error = object?["error"] as? String {
                detail = error + ((object?["error_description"] as? String).map { ": " + $0.prefix(300) } ?? "")
            } else if let error = object?["error"] as? [String: Any] {
                detail = [error["status"] as? String, (error["message"] as? String).map { String($0.prefix(300)) }]
                    .compactMap { $0 }.joined(separator: ": ")
            }
            throw GoogleTokenFailure(
                description: "\(what) refused the token request (\(detail))", isTransient: response.status >= 500 || response.status == 429)
        }
        return object
    }
}

extension GoogleExternalAccount {
    /// The subject token, read from its file now.
    func subjectToken() throws -> Secret {
        guard let data = FileManager.default.contents(atPath: subjectTokenFile) else {
            throw GoogleTokenFailure(description: "cannot read the subject token file \(subjectTokenFile) (credential_source.file)")
        }
        var token = String(decoding: data, as: UTF8.self)
        if let field = subjectTokenField {
            guard let value = JSONValue.object(Array(data))?[field] as? String else {
                throw GoogleTokenFailure(description: "the subject token file \(subjectTokenFile) has no '\(field)' field")
            }
            token = value
        }
        token = token.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw GoogleTokenFailure(description: "the subject token file \(subjectTokenFile) is empty") }
        return Secret(token)
    }
}

extension SecretHTTPRequest {
    static func form(_ url: URL, _ pairs: [(String, String)]) -> SecretHTTPRequest {
        SecretHTTPRequest(
            method: "POST", url: url, headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: Array(FormEncoding.encode(pairs).utf8))
    }
}

/// Google's OAuth endpoint, STS, IAM or the metadata server did not give a token.
public struct GoogleTokenFailure: Error, Sendable, CustomStringConvertible {
    public var description: String
    /// The service failed on its side or could not be reached (5xx, throttling), rather than refusing.
    public var isTransient = false
}
