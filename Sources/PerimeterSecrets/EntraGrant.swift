import Foundation
import PerimeterCore

/// How the gateway proves who it is to Microsoft Entra ID, and the one HTTP request each way takes.
///
/// Wire formats, as documented by Microsoft:
/// - Client credentials, "Microsoft identity platform and the OAuth 2.0 client credentials flow":
///   `POST {authority}/{tenant}/oauth2/v2.0/token`, form `grant_type=client_credentials`, `client_id`,
///   `client_secret`, `scope`.
/// - Workload identity federation (same page, "access token request with a federated credential";
///   the Azure SDKs' `WorkloadIdentityCredential`): the same request with
///   `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer` and
///   `client_assertion` = the Kubernetes service-account token in `AZURE_FEDERATED_TOKEN_FILE`,
///   read again for every request because the kubelet rotates it.
/// - Certificate credentials (``EntraCertificate``): the same request with `client_assertion_type` and a
///   `client_assertion` the gateway signs with the certificate's key, the PEM file read again for each
///   request so a renewed certificate is used without a restart.
/// - Managed identity, "How to use managed identities for Azure resources on an Azure VM to acquire an
///   access token": `GET http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01
///   &resource=...[&client_id=...]` with `Metadata: true`; the answer's `expires_in` and `expires_on`
///   are strings.
public enum EntraGrant: Sendable {
    case clientSecret(tokenURL: URL, clientID: String, secret: SecretReference, resolver: SecretResolver)
    case federatedToken(tokenURL: URL, clientID: String, tokenFile: String)
    case clientCertificate(tokenURL: URL, clientID: String, certificateFile: String)
    case managedIdentity(endpoint: URL, clientID: String?)

    public static let defaultAuthority = URL(string: "https://login.microsoftonline.com")!
    public static let instanceMetadataEndpoint = URL(string: "http://169.254.169.254")!

    public static func tokenURL(authority: URL, tenantID: String) -> URL {
        authority.appendingPathComponent(tenantID).appendingPathComponent("oauth2/v2.0/token")
    }

    /// Workload identity from the variables the Azure SDKs read: `AZURE_FEDERATED_TOKEN_FILE`,
    /// `AZURE_CLIENT_ID`, `AZURE_TENANT_ID` and `AZURE_AUTHORITY_HOST` (default
    /// `https://login.microsoftonline.com/`), as the Azure Workload Identity webhook sets them in a pod.
    public static func workloadIdentity(environment: [String: String]) throws(EntraConfigurationError) -> EntraGrant {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        let names = ["AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_ID", "AZURE_TENANT_ID"]
        let missing = names.filter { value($0) == nil }
        guard missing.isEmpty, let file = value(names[0]), let clientID = value(names[1]), let tenantID = value(names[2]) else {
            throw .missingVariables(missing)
        }
        let authorityText = value("AZURE_AUTHORITY_HOST") ?? defaultAuthority.absoluteString
        guard let authority = URL(string: authorityText), authority.host?.isEmpty == false,
            authority.scheme == "https" || (authority.scheme == "http" && isLoopback(authority))
        else { throw .badAuthority(authorityText) }
        return .federatedToken(tokenURL: tokenURL(authority: authority, tenantID: tenantID), clientID: clientID, tokenFile: file)
    }

    /// Whether a secret may travel to `url` in the clear: only to this machine itself.
    public static func isLoopback(_ url: URL) -> Bool {
        ["127.0.0.1", "localhost", "::1", "[::1]"].contains(url.host ?? "")
    }

    /// The request for a token for `scope` (`https://vault.azure.net/.default`).
    func request(scope: String) async throws -> SecretHTTPRequest {
        let form: [(String, String)]
        let tokenURL: URL
        switch self {
        case .clientSecret(let url, let clientID, let reference, let resolver):
            let secret = try await resolver.secret(for: reference)
            form = [("grant_type", "client_credentials"), ("client_id", clientID), ("client_secret", secret.revealed), ("scope", scope)]
            tokenURL = url
        case .federatedToken(let url, let clientID, let file):
            guard let data = FileManager.default.contents(atPath: file) else {
                throw EntraTokenFailure(description: "cannot read the federated token file \(file) (AZURE_FEDERATED_TOKEN_FILE)")
            }
            let assertion = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !assertion.isEmpty else {
                throw EntraTokenFailure(description: "the federated token file \(file) is empty")
            }
            form = Self.assertionForm(clientID: clientID, assertion: assertion, scope: scope)
            tokenURL = url
        case .clientCertificate(let url, let clientID, let file):
            let assertion = try EntraCertificate(pemFile: file).assertion(clientID: clientID, tokenURL: url, now: Date())
            form = Self.assertionForm(clientID: clientID, assertion: assertion, scope: scope)
            tokenURL = url
        case .managedIdentity(let endpoint, let clientID):
            // IMDS takes the resource, not a scope: `https://vault.azure.net`, without `/.default`.
            let resource = scope.hasSuffix("/.default") ? String(scope.dropLast("/.default".count)) : scope
            var query = [("api-version", "2018-02-01"), ("resource", resource)]
            if let clientID { query.append(("client_id", clientID)) }
            var base = endpoint.absoluteString
            while base.hasSuffix("/") { base.removeLast() }
            let url = URL(string: base + "/metadata/identity/oauth2/token?" + Self.formEncoded(query))!
            return SecretHTTPRequest(method: "GET", url: url, headers: [("Metadata", "true")])
        }
        return SecretHTTPRequest(
            method: "POST", url: tokenURL, headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: Array(Self.formEncoded(form).utf8))
    }

    private static func assertionForm(clientID: String, assertion: String, scope: String) -> [(String, String)] {
        [
            ("grant_type", "client_credentials"), ("client_id", clientID),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"), ("client_assertion", assertion),
            ("scope", scope),
        ]
    }

    /// The token and its lifetime in seconds from an answer; a refusal says what Entra said (its error
    /// and description never hold the secret or the assertion).
    static func token(from response: SecretHTTPResponse, requestedAt: Date) throws -> (Secret, TimeInterval) {
        let object = JSONValue.object(response.body)
        guard response.status == 200, let token = object?["access_token"] as? String, !token.isEmpty else {
            let error = object?["error"] as? String ?? "status \(response.status)"
            let detail = (object?["error_description"] as? String).map { ": " + $0.prefix(300) } ?? ""
            throw EntraTokenFailure(
                description: "Entra ID refused the token request (\(error)\(detail))",
                isTransient: response.status >= 500 || response.status == 429)
        }
        func number(_ key: String) -> Double? {
            (object?[key] as? NSNumber)?.doubleValue ?? (object?[key] as? String).flatMap(Double.init)
        }
        // `expires_in` is relative, so immune to a skewed local clock; `expires_on` only when it is absent.
        let lifetime = number("expires_in") ?? number("expires_on").map { $0 - requestedAt.timeIntervalSince1970 } ?? 3600
        return (Secret(token), lifetime)
    }

    static func formEncoded(_ pairs: [(String, String)]) -> String {
        FormEncoding.encode(pairs)
    }
}

/// Entra ID (or the metadata endpoint) did not give a token.
public struct EntraTokenFailure: Error, Sendable, CustomStringConvertible {
    public var description: String
    /// Entra failed on its side (5xx, throttling) rather than refusing.
    public var isTransient = false
}

public enum EntraConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    case missingVariables([String])
    case badAuthority(String)

    public var description: String {
        switch self {
        case .missingVariables(let names):
            "workload identity needs \(names.joined(separator: ", ")) in the gateway's environment (the Azure Workload Identity webhook sets them in the pod)"
        case .badAuthority(let text): "AZURE_AUTHORITY_HOST '\(text)' is not an https URL (http only to this machine)"
        }
    }
}
