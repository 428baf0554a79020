import Foundation
import PerimeterCore

/// A role a profile assumes with STS `AssumeRole`, signed with the credentials of its source.
struct AWSAssumeRole: Equatable, Sendable {
    var roleARN: String
    var sessionName: String
    var externalID: String?
    var durationSeconds: Int?
    var sts: URL
    /// The region STS calls are signed for (`us-east-1` for the global endpoint).
    var region: String
}

/// `~/.aws/credentials` and `~/.aws/config`: INI sections of `key = value` lines; a profile is
/// `[NAME]` in the first and `[profile NAME]` (or `[default]`) in the second, the first's values
/// winning where both set one.
///
/// A profile gives credentials as the AWS SDKs read them, first match wins: a role (`role_arn` with
/// `source_profile` or `credential_source`, assumed with STS `AssumeRole`); a web identity
/// (`web_identity_token_file` with `role_arn`); AWS IAM Identity Center (`sso_session` or
/// `sso_start_url`, the token `aws sso login` cached); static keys in the credentials file;
/// `credential_process`; static keys in the config file. A profile used as a `source_profile` gives its
/// static keys first, so a chain of roles ends at keys; a chain that comes back to a profile it passed
/// is refused (a profile may name itself when it holds the keys its role is assumed with).
struct AWSSharedFiles {
    var credentialsFile: String
    var configFile: String
    var environment: [String: String]
    /// The region of the store or provider, for STS when the profile names none.
    var region: String?

    /// The credential source `profile` describes; nil when neither file has the profile or it holds no
    /// credential settings.
    func source(profile: String) throws -> AWSCredentialChain.Source? {
        try resolve(profile, visited: [], asSource: false)
    }

    private func sections(_ name: String) -> (credentials: [String: String]?, config: [String: String]?) {
        func read(_ file: String, _ header: String) -> [String: String]? {
            FileManager.default.contents(atPath: file).flatMap { Self.section(named: header, in: String(decoding: $0, as: UTF8.self)) }
        }
        return (read(credentialsFile, name), read(configFile, name == "default" ? "default" : "profile \(name)"))
    }

    private func resolve(_ name: String, visited: [String], asSource: Bool) throws -> AWSCredentialChain.Source? {
        let (fromCredentials, fromConfig) = sections(name)
        let values = (fromConfig ?? [:]).merging(fromCredentials ?? [:]) { $1 }
        let keysInCredentials = fromCredentials.flatMap(Self.staticKeys)
        let keysInConfig = fromConfig.flatMap(Self.staticKeys)
        if asSource, let keys = keysInCredentials ?? keysInConfig { return .profile(keys, name: name) }
        if let role = values["role_arn"], values["web_identity_token_file"] == nil {
            return try assumedRole(role, profile: name, values: values, keys: keysInCredentials ?? keysInConfig, visited: visited)
        }
        if let file = values["web_identity_token_file"] {
            guard let role = values["role_arn"] else { throw error(name, "has web_identity_token_file without role_arn") }
            let (sts, _) = try stsEndpoint(region: values["region"])
            return .webIdentity(tokenFile: file, roleARN: role, sessionName: values["role_session_name"] ?? "perimeter", sts: sts)
        }
        if values["sso_session"] != nil || values["sso_start_url"] != nil {
            return .sso(try AWSSSOProfile(profile: name, values: values, configFile: configFile, environment: environment), profile: name)
        }
        if let keys = keysInCredentials { return .profile(keys, name: name) }
        if let command = values["credential_process"], !command.isEmpty { return .process(command: command, profile: name) }
        return keysInConfig.map { .profile($0, name: name) }
    }

    private func assumedRole(
        _ roleARN: String, profile name: String, values: [String: String], keys: AWSCredentials?, visited: [String]
    ) throws -> AWSCredentialChain.Source {
        if values["mfa_serial"] != nil {
            throw error(name, "asks for an MFA code (mfa_serial), which a gateway has no one to type")
        }
        var duration: Int?
        if let text = values["duration_seconds"] {
            guard let seconds = Int(text), (900...43200).contains(seconds) else {
                throw error(name, "has duration_seconds '\(text)'; STS takes 900 to 43200")
            }
            duration = seconds
        }
        let (sts, region) = try stsEndpoint(region: values["region"])
        let role = AWSAssumeRole(
            roleARN: roleARN, sessionName: values["role_session_name"] ?? "perimeter", externalID: values["external_id"],
            durationSeconds: duration, sts: sts, region: region)
        switch (values["source_profile"], values["credential_source"]) {
        case (.some, .some):
            throw error(name, "has both source_profile and credential_source; give one")
        case (nil, nil):
            throw error(name, "has role_arn without source_profile or credential_source")
        case (nil, let credentialSource?):
            return .assumeRole(role, from: try AWSCredentialChain.credentialSource(credentialSource, environment), profile: name)
        case (let source?, nil):
            if source == name, let keys {
                return .assumeRole(role, from: .profile(keys, name: name), profile: name)
            }
            guard source != name, !visited.contains(source) else {
                let loop = (visited + [name, source]).joined(separator: " -> ")
                throw AWSCredentialError(description: "AWS profiles name each other as source_profile in a loop: \(loop)")
            }
            guard let from = try resolve(source, visited: visited + [name], asSource: true) else {
                throw error(name, "names source_profile '\(source)', which has no credentials in \(credentialsFile) or \(configFile)")
            }
            return .assumeRole(role, from: from, profile: name)
        }
    }

    /// STS's endpoint and signing region: `AWS_ENDPOINT_URL_STS` or `AWS_ENDPOINT_URL`, else the
    /// regional endpoint of the profile's or the chain's region, else the global one (`us-east-1`).
    func stsEndpoint(region profileRegion: String?) throws -> (URL, String) {
        let region = profileRegion ?? region
        let text =
            environment.nonEmpty("AWS_ENDPOINT_URL_STS") ?? environment.nonEmpty("AWS_ENDPOINT_URL")
            ?? region.map { "https://sts.\($0).amazonaws.com" } ?? "https://sts.amazonaws.com"
        guard let url = URL(string: text), url.host != nil else { throw AWSCredentialError(description: "'\(text)' is not a URL for STS") }
        return (url, region ?? "us-east-1")
    }

    private func error(_ profile: String, _ problem: String) -> AWSCredentialError {
        AWSCredentialError(description: "AWS profile '\(profile)' \(problem)")
    }

    static func staticKeys(_ values: [String: String]) -> AWSCredentials? {
        guard let key = values["aws_access_key_id"], let secret = values["aws_secret_access_key"] else { return nil }
        return AWSCredentials(accessKeyID: key, secretAccessKey: Secret(secret), sessionToken: values["aws_session_token"].map(Secret.init))
    }

    /// The `key = value` pairs of the section `[name]`, keys lowercased; nil when there is no such section.
    static func section(named name: String, in text: String) -> [String: String]? {
        var current: String?
        var values: [String: String]?
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                current = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                if current == name, values == nil { values = [:] }
                continue
            }
            guard current == name, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            values?[key] = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        }
        return values
    }
}

extension [String: String] {
    /// The value of a variable that is set and not empty.
    func nonEmpty(_ name: String) -> String? { self[name].flatMap { $0.isEmpty ? nil : $0 } }
}
