import Crypto
import Foundation
import PerimeterCore

/// A profile of AWS IAM Identity Center (SSO): the role's credentials come from the access portal's
/// `GetRoleCredentials`, with the access token `aws sso login` cached in
/// `~/.aws/sso/cache/SHA1.json`, SHA1 being the hex SHA-1 of the `sso_session` name (or, for a legacy
/// profile with `sso_start_url` of its own, of the start URL).
///
/// The gateway does not log in and does not refresh that token: when it has expired, the error says
/// to run `aws sso login` again.
struct AWSSSOProfile: Equatable, Sendable {
    var accountID: String
    var roleName: String
    /// The portal: `https://portal.sso.REGION.amazonaws.com`, or `AWS_ENDPOINT_URL_SSO` / `AWS_ENDPOINT_URL`.
    var portal: URL
    var tokenFile: String

    init(profile: String, values: [String: String], configFile: String, environment: [String: String]) throws {
        func missing(_ what: String) -> AWSCredentialError {
            AWSCredentialError(description: "AWS profile '\(profile)' is an SSO profile without \(what)")
        }
        guard let account = values["sso_account_id"] else { throw missing("sso_account_id") }
        guard let role = values["sso_role_name"] else { throw missing("sso_role_name") }
        var settings = values
        let cacheKey: String
        if let session = values["sso_session"] {
            let text = FileManager.default.contents(atPath: configFile).map { String(decoding: $0, as: UTF8.self) } ?? ""
            guard let sessionValues = AWSSharedFiles.section(named: "sso-session \(session)", in: text) else {
                throw AWSCredentialError(
                    description:
                        "AWS profile '\(profile)' names sso_session '\(session)', which has no [sso-session \(session)] in \(configFile)")
            }
            settings.merge(sessionValues) { $1 }
            cacheKey = session
        } else {
            guard let start = values["sso_start_url"] else { throw missing("sso_start_url") }
            cacheKey = start
        }
        guard let region = settings["sso_region"] else { throw missing("sso_region") }
        let base =
            environment.nonEmpty("AWS_ENDPOINT_URL_SSO") ?? environment.nonEmpty("AWS_ENDPOINT_URL")
            ?? "https://portal.sso.\(region).amazonaws.com"
        guard let portal = URL(string: base), portal.host != nil else {
            throw AWSCredentialError(description: "'\(base)' is not a URL for the SSO portal")
        }
        let home = environment.nonEmpty("HOME") ?? NSHomeDirectory()
        let digest = Hex.encode(Insecure.SHA1.hash(data: Array(cacheKey.utf8)))
        accountID = account
        roleName = role
        self.portal = portal
        tokenFile = home + "/.aws/sso/cache/\(digest).json"
    }

    /// `GET /federation/credentials?role_name=R&account_id=A` with the cached token in
    /// `x-amz-sso_bearer_token`; the answer's `roleCredentials` carry `expiration` in milliseconds.
    func credentials(transport: any SecretHTTPTransport, now: Date) async throws -> (AWSCredentials, Date?) {
        guard let data = FileManager.default.contents(atPath: tokenFile),
            let cached = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
            let token = cached["accessToken"] as? String
        else {
            throw AWSCredentialError(description: "no SSO token cached at \(tokenFile); run `aws sso login`")
        }
        if let text = cached["expiresAt"] as? String, let expiry = AWSCredentialSources.parseDate(text), expiry <= now {
            throw AWSCredentialError(description: "the SSO token cached at \(tokenFile) expired at \(text); run `aws sso login`")
        }
        let root = portal.absoluteString.hasSuffix("/") ? String(portal.absoluteString.dropLast()) : portal.absoluteString
        let query = "role_name=\(PercentEncoding.encode(roleName))&account_id=\(PercentEncoding.encode(accountID))"
        guard let url = URL(string: root + "/federation/credentials?" + query) else {
            throw AWSCredentialError(description: "cannot make the SSO portal's URL from \(root)")
        }
        let body = try await AWSCredentialSources.send(
            SecretHTTPRequest(method: "GET", url: url, headers: [(name: "x-amz-sso_bearer_token", value: token)]),
            what: "the SSO portal (GetRoleCredentials)", transport: transport)
        let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
        guard let role = object?["roleCredentials"] as? [String: Any], let key = role["accessKeyId"] as? String,
            let secret = role["secretAccessKey"] as? String
        else { throw AWSCredentialError(description: "the SSO portal answered without role credentials") }
        let expiry = (role["expiration"] as? NSNumber).map { Date(timeIntervalSince1970: $0.doubleValue / 1000) }
        return (
            AWSCredentials(
                accessKeyID: key, secretAccessKey: Secret(secret), sessionToken: (role["sessionToken"] as? String).map(Secret.init)),
            expiry
        )
    }
}
