import Foundation
import PerimeterCore

/// The exchanges of the chain's temporary sources, each as AWS documents it.
enum AWSCredentialSources {
    /// STS `AssumeRoleWithWebIdentity` (unsigned: the token is the proof).
    static func assumeRoleWithWebIdentity(
        tokenFile: String, roleARN: String, sessionName: String, sts: URL, transport: any SecretHTTPTransport
    ) async throws -> (AWSCredentials, Date?) {
        guard let data = FileManager.default.contents(atPath: tokenFile) else {
            throw AWSCredentialError(description: "cannot read the web identity token file \(tokenFile)")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return try await stsCall(
            "AssumeRoleWithWebIdentity",
            [("RoleArn", roleARN), ("RoleSessionName", sessionName), ("WebIdentityToken", token)], sts: sts, signer: nil,
            transport: transport)
    }

    /// STS `AssumeRole` for a profile's `role_arn`, signed (SigV4, service `sts`) with the credentials of
    /// the profile's source; `ExternalId` and `DurationSeconds` when the profile sets them.
    static func assumeRole(
        _ role: AWSAssumeRole, with credentials: AWSCredentials, transport: any SecretHTTPTransport, now: Date
    ) async throws -> (AWSCredentials, Date?) {
        var parameters = [("RoleArn", role.roleARN), ("RoleSessionName", role.sessionName)]
        if let external = role.externalID { parameters.append(("ExternalId", external)) }
        if let seconds = role.durationSeconds { parameters.append(("DurationSeconds", String(seconds))) }
        let signer = SigV4Signer(credentials: credentials, region: role.region, service: "sts")
        return try await stsCall("AssumeRole", parameters, sts: role.sts, signer: (signer, now), transport: transport)
    }

    /// One call of STS's Query API (version 2011-06-15): a form POST, signed when `signer` is given; the
    /// answer's `<Credentials>` hold `AccessKeyId`, `SecretAccessKey`, `SessionToken` and `Expiration`.
    private static func stsCall(
        _ action: String, _ parameters: [(String, String)], sts: URL, signer: (SigV4Signer, Date)?, transport: any SecretHTTPTransport
    ) async throws -> (AWSCredentials, Date?) {
        let form = ([("Action", action), ("Version", "2011-06-15")] + parameters).map { "\($0.0)=\(formEncode($0.1))" }
            .joined(separator: "&")
        let url = sts.path.isEmpty ? sts.appendingPathComponent("") : sts
        let body = Array(form.utf8)
        var headers = [(name: "content-type", value: "application/x-www-form-urlencoded")]
        if let (signer, now) = signer { headers = signer.sign(method: "POST", url: url, headers: headers, body: body, date: now) }
        let response = try await send(
            SecretHTTPRequest(method: "POST", url: url, headers: headers, body: body), what: "STS \(action)", transport: transport)
        let xml = String(decoding: response, as: UTF8.self)
        guard let key = element("AccessKeyId", in: xml), let secret = element("SecretAccessKey", in: xml),
            let session = element("SessionToken", in: xml)
        else { throw AWSCredentialError(description: "STS \(action) answered without credentials") }
        return (
            AWSCredentials(accessKeyID: key, secretAccessKey: Secret(secret), sessionToken: Secret(session)),
            element("Expiration", in: xml).flatMap(parseDate)
        )
    }

    /// The ECS container credentials endpoint: JSON with `AccessKeyId`, `SecretAccessKey`, `Token`, `Expiration`.
    static func container(
        _ url: URL, authorization: String?, authorizationFile: String?, transport: any SecretHTTPTransport
    ) async throws -> (AWSCredentials, Date?) {
        var headers: [(name: String, value: String)] = []
        if let file = authorizationFile, let data = FileManager.default.contents(atPath: file) {
            headers.append(
                (name: "authorization", value: String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
        } else if let authorization {
            headers.append((name: "authorization", value: authorization))
        }
        let body = try await send(
            SecretHTTPRequest(method: "GET", url: url, headers: headers), what: "the ECS credentials endpoint", transport: transport)
        return try jsonCredentials(body, what: "the ECS credentials endpoint")
    }

    /// IMDSv2: `PUT /latest/api/token` (`X-aws-ec2-metadata-token-ttl-seconds`), then with the token in
    /// `X-aws-ec2-metadata-token`, the role name from `/latest/meta-data/iam/security-credentials/` and its
    /// credentials (JSON with `Code: Success`) from that path plus the name.
    static func instanceMetadata(_ base: URL, transport: any SecretHTTPTransport) async throws -> (AWSCredentials, Date?) {
        let root = base.absoluteString.hasSuffix("/") ? String(base.absoluteString.dropLast()) : base.absoluteString
        let tokenBytes = try await send(
            SecretHTTPRequest(
                method: "PUT", url: URL(string: root + "/latest/api/token")!,
                headers: [(name: "x-aws-ec2-metadata-token-ttl-seconds", value: "21600")]), what: "instance metadata (token)",
            transport: transport)
        let token = [(name: "x-aws-ec2-metadata-token", value: String(decoding: tokenBytes, as: UTF8.self))]
        let path = root + "/latest/meta-data/iam/security-credentials/"
        let roles = try await send(
            SecretHTTPRequest(method: "GET", url: URL(string: path)!, headers: token), what: "instance metadata (role)",
            transport: transport)
        guard let role = String(decoding: roles, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init),
            PlainName.isValid(role, punctuation: "-_.+=,@", maxLength: 128), let url = URL(string: path + role)
        else { throw AWSCredentialError(description: "this instance has no IAM role") }
        let body = try await send(
            SecretHTTPRequest(method: "GET", url: url, headers: token), what: "instance metadata (credentials)", transport: transport)
        return try jsonCredentials(body, what: "instance metadata")
    }

    static func jsonCredentials(_ body: [UInt8], what: String) throws -> (AWSCredentials, Date?) {
        let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
        if let code = object["Code"] as? String, code != "Success" {
            throw AWSCredentialError(description: "\(what) answered \(code)")
        }
        guard let key = object["AccessKeyId"] as? String, let secret = object["SecretAccessKey"] as? String else {
            throw AWSCredentialError(description: "\(what) answered without credentials")
        }
        return (
            AWSCredentials(accessKeyID: key, secretAccessKey: Secret(secret), sessionToken: (object["Token"] as? String).map(Secret.init)),
            (object["Expiration"] as? String).flatMap(parseDate)
        )
    }

    /// The body of a 200 answer; otherwise an error naming `what` and the status, never the body (it may echo a token).
    static func send(_ request: SecretHTTPRequest, what: String, transport: any SecretHTTPTransport) async throws -> [UInt8] {
        let response: SecretHTTPResponse
        do {
            response = try await transport.send(request)
        } catch {
            throw AWSCredentialError(description: "cannot reach \(what) at \(request.url.host ?? "?")")
        }
        guard response.status == 200 else {
            let xml = String(decoding: response.body.prefix(2000), as: UTF8.self)
            let code = element("Code", in: xml).map { " (\($0))" } ?? ""
            throw AWSCredentialError(description: "\(what) answered \(response.status)\(code)")
        }
        return response.body
    }

    /// The text of the first `<name>` element: AWS's Query API answers are flat enough for that.
    static func element(_ name: String, in xml: String) -> String? {
        guard let open = xml.range(of: "<\(name)>"), let close = xml.range(of: "</\(name)>", range: open.upperBound..<xml.endIndex) else {
            return nil
        }
        return String(xml[open.upperBound..<close.lowerBound]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func parseDate(_ text: String) -> Date? {
        Timestamp.parse(text) ?? ISO8601DateFormatter().date(from: text)
    }

    static func formEncode(_ text: String) -> String { PercentEncoding.encode(text) }
}
