import Foundation

/// How the gateway proves who it is to Google Cloud, found as Google's Application Default
/// Credentials find it: the credentials file named by `GOOGLE_APPLICATION_CREDENTIALS` (or
/// `secrets.gcp_sm.credentials_file`), a service-account key or an external account (workload
/// identity federation); without one, the metadata server of the instance, pod or function the
/// gateway runs on. (gcloud's own user credentials, `authorized_user`, are for people, not servers,
/// and are refused.)
public enum GoogleCredentials: Sendable {
    case serviceAccount(GoogleServiceAccount)
    case externalAccount(GoogleExternalAccount)
    /// `http://HOST` of the metadata server (`metadata.google.internal`, or `GCE_METADATA_HOST`).
    case metadataServer(URL)

    /// The scope every token is asked for; Secret Manager's IAM roles decide what it may do.
    public static let cloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"
    public static let defaultMetadataHost = "metadata.google.internal"

    /// The credentials a configured file, `GOOGLE_APPLICATION_CREDENTIALS` or the metadata server give.
    public static func applicationDefault(
        file: String?, metadataHost: String?, environment: [String: String]
    ) throws(GoogleCredentialsError) -> GoogleCredentials {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        if let path = file ?? value("GOOGLE_APPLICATION_CREDENTIALS") {
            return try load(path)
        }
        let host = metadataHost ?? value("GCE_METADATA_HOST") ?? defaultMetadataHost
        guard let url = URL(string: "http://\(host)"), url.host?.isEmpty == false, url.path.isEmpty, url.query == nil else {
            throw .badMetadataHost(host)
        }
        return .metadataServer(url)
    }

    /// A credentials file: `type` `service_account` or `external_account`.
    public static func load(_ path: String) throws(GoogleCredentialsError) -> GoogleCredentials {
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path) }
        guard let object = JSONValue.object(Array(data)) else { throw .invalid(path, "it is not a JSON object") }
        func string(_ key: String, in object: [String: Any] = object) throws(GoogleCredentialsError) -> String {
            guard let text = object[key] as? String, !text.isEmpty else { throw .invalid(path, "it has no \(key)") }
            return text
        }
        func url(_ key: String, in object: [String: Any] = object) throws(GoogleCredentialsError) -> URL {
            let text = try string(key, in: object)
            guard let url = URL(string: text), url.host?.isEmpty == false,
                url.scheme == "https" || (url.scheme == "http" && EntraGrant.isLoopback(url))
            else { throw .invalid(path, "its \(key) '\(text)' is not an https URL (http only to this machine)") }
            return url
        }
        switch object["type"] as? String {
        case "service_account":
            let pem = try string("private_key")
            let signer: RS256JWT
            do {
                signer = try RS256JWT(pemRepresentation: pem)
            } catch {
                // The error of a PEM parser can quote what it read: only its kind is said.
                throw .invalid(path, "its private_key is not an RSA private key of 2048 bits or more in PEM")
            }
            var tokenURL = GoogleServiceAccount.defaultTokenURL
            if object["token_uri"] != nil { tokenURL = try url("token_uri") }
            return .serviceAccount(
                GoogleServiceAccount(
                    clientEmail: try string("client_email"), keyID: try string("private_key_id"), tokenURL: tokenURL, signer: signer))
        case "external_account":
            guard let source = object["credential_source"] as? [String: Any] else {
                throw .invalid(path, "it has no credential_source")
            }
            guard let file = source["file"] as? String, !file.isEmpty else {
                throw .invalid(
                    path, "only a credential_source with a file (a Kubernetes or other OIDC token) is supported, not a URL or an executable"
                )
            }
            var field: String?
            if let format = source["format"] as? [String: Any], format["type"] as? String == "json" {
                field = try string("subject_token_field_name", in: format)
            }
            var tokenURL = GoogleExternalAccount.defaultTokenURL
            if object["token_url"] != nil { tokenURL = try url("token_url") }
            var impersonationURL: URL?
            if object["service_account_impersonation_url"] != nil { impersonationURL = try url("service_account_impersonation_url") }
            return .externalAccount(
                GoogleExternalAccount(
                    audience: try string("audience"), subjectTokenType: try string("subject_token_type"), tokenURL: tokenURL,
                    subjectTokenFile: file, subjectTokenField: field, impersonationURL: impersonationURL))
        case let type?:
            throw .invalid(path, "its type '\(type)' is not supported; use a service_account key or an external_account file")
        case nil:
            throw .invalid(path, "it has no type")
        }
    }

    /// Who the credentials are, for messages (never a key or a token).
    public var identity: String {
        switch self {
        case .serviceAccount(let account): "service account \(account.clientEmail)"
        case .externalAccount(let account): "workload identity pool \(account.audience)"
        case .metadataServer(let url): "the metadata server at \(url.host ?? "")"
        }
    }
}

/// A service-account key file's fields: the JWT it signs goes to `token_uri`.
public struct GoogleServiceAccount: Sendable {
    public static let defaultTokenURL = URL(string: "https://oauth2.googleapis.com/token")!

    public var clientEmail: String
    public var keyID: String
    public var tokenURL: URL
    let signer: RS256JWT
}

/// An external account file (workload identity federation): a token from `credential_source.file`
/// exchanged at Google's STS, and optionally for a service account's token.
public struct GoogleExternalAccount: Sendable {
    public static let defaultTokenURL = URL(string: "https://sts.googleapis.com/v1/token")!

    /// `//iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/POOL/providers/PROVIDER`.
    public var audience: String
    /// `urn:ietf:params:oauth:token-type:jwt` for a Kubernetes or OIDC token.
    public var subjectTokenType: String
    public var tokenURL: URL
    /// Read again at each exchange: the kubelet rotates a projected token.
    public var subjectTokenFile: String
    /// With `format.type: json`, the field of the file that holds the token.
    public var subjectTokenField: String?
    /// `https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/EMAIL:generateAccessToken`.
    public var impersonationURL: URL?
}

public enum GoogleCredentialsError: Error, Sendable, Hashable, CustomStringConvertible {
    case unreadable(String)
    case invalid(String, String)
    case badMetadataHost(String)

    public var description: String {
        switch self {
        case .unreadable(let path): "cannot read the Google credentials file \(path)"
        case .invalid(let path, let problem): "the Google credentials file \(path) is not usable: \(problem)"
        case .badMetadataHost(let host): "the metadata host '\(host)' is not a HOST[:PORT]"
        }
    }
}
