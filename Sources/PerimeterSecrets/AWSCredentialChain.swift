import Foundation
import PerimeterCore

/// Hands out AWS credentials for signing, renewing temporary ones before they expire.
public protocol AWSCredentialProvider: Sendable {
    func credentials() async throws -> AWSCredentials
    /// Which source the credentials come from (`environment`, `web-identity`, ...), for `serve --check`.
    var sourceName: String { get async }
}

/// Credentials that never change (the environment's, a test's).
public struct StaticAWSCredentials: AWSCredentialProvider {
    let value: AWSCredentials
    public init(_ value: AWSCredentials) { self.value = value }
    public func credentials() async throws -> AWSCredentials { value }
    public var sourceName: String { "static" }
}

public struct AWSCredentialError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// The default credential chain the AWS SDKs follow, first match wins:
/// 1. the environment: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`;
/// 2. web identity, as on EKS: `AWS_WEB_IDENTITY_TOKEN_FILE` and `AWS_ROLE_ARN` (and
///    `AWS_ROLE_SESSION_NAME`), exchanged at STS `AssumeRoleWithWebIdentity` (unsigned; the token file
///    is read again at each renewal, since Kubernetes rotates it);
/// 3. the shared files with a profile: `AWS_PROFILE` (default `default`) in `AWS_SHARED_CREDENTIALS_FILE`
///    (`~/.aws/credentials`) or `AWS_CONFIG_FILE` (`~/.aws/config`, `[profile NAME]`);
/// 4. the ECS container endpoint: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (at 169.254.170.2) or
///    `AWS_CONTAINER_CREDENTIALS_FULL_URI` with `AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)`;
/// 5. EC2 instance metadata, IMDSv2 only: a session token from `PUT /latest/api/token`, then the role's
///    credentials (unless `AWS_EC2_METADATA_DISABLED=true`; `AWS_EC2_METADATA_SERVICE_ENDPOINT` moves it).
/// An explicitly set `AWS_PROFILE` puts the shared files first, as the SDKs do. Temporary credentials
/// are renewed ahead of expiry by ``ExpiringCredential``.
public actor AWSCredentialChain: AWSCredentialProvider {
    enum Source: Equatable {
        case environment(AWSCredentials)
        case webIdentity(tokenFile: String, roleARN: String, sessionName: String, sts: URL)
        case profile(AWSCredentials, name: String)
        case container(URL, authorization: String?, authorizationFile: String?)
        case instanceMetadata(URL)

        var name: String {
            switch self {
            case .environment: "environment"
            case .webIdentity: "web-identity"
            case .profile(_, let name): "profile:\(name)"
            case .container: "ecs-container"
            case .instanceMetadata: "ec2-instance-metadata"
            }
        }
    }

    let source: Result<Source, AWSCredentialError>
    private let transport: any SecretHTTPTransport
    private let clock: @Sendable () -> Date
    private var cache = ExpiringCredential<AWSCredentials>()
    private var fetching: Task<(AWSCredentials, Date?), any Error>?

    /// The chain's first source that `environment` (and the files it names) provides; when there is
    /// none, every call says why.
    public init(
        environment: [String: String], region: String?, transport: any SecretHTTPTransport,
        clock: @escaping @Sendable () -> Date = Date.init
    ) {
        do {
            source = .success(try Self.source(environment, region: region))
        } catch let error as AWSCredentialError {
            source = .failure(error)
        } catch {
            source = .failure(AWSCredentialError(description: "\(error)"))
        }
        self.transport = transport
        self.clock = clock
    }

    public var sourceName: String { (try? source.get().name) ?? "none" }

    public func credentials() async throws -> AWSCredentials {
        let now = clock()
        switch cache.decide(now: now) {
        case .use:
            if let value = cache.value { return value }
        case .fail:
            throw AWSCredentialError(description: "AWS credentials from \(sourceName) were refused moments ago; retrying shortly")
        case .fetch:
            break
        }
        let task = fetching ?? Task { try await self.fetch() }
        fetching = task
        defer { fetching = nil }
        do {
            let (value, expiry) = try await task.value
            cache.fetched(value, expiresAt: expiry, now: clock())
            return value
        } catch {
            cache.failed(now: clock())
            if cache.isValid(at: clock()), let value = cache.value { return value }
            throw error
        }
    }

    private func fetch() async throws -> (AWSCredentials, Date?) {
        switch try source.get() {
        case .environment(let credentials), .profile(let credentials, _):
            return (credentials, nil)
        case .webIdentity(let file, let role, let session, let sts):
            return try await AWSCredentialSources.assumeRoleWithWebIdentity(
                tokenFile: file, roleARN: role, sessionName: session, sts: sts, transport: transport)
        case .container(let url, let authorization, let file):
            return try await AWSCredentialSources.container(
                url, authorization: authorization, authorizationFile: file, transport: transport)
        case .instanceMetadata(let base):
            return try await AWSCredentialSources.instanceMetadata(base, transport: transport)
        }
    }

    static func source(_ environment: [String: String], region: String?) throws -> Source {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        let home = value("HOME") ?? NSHomeDirectory()
        let profile = value("AWS_PROFILE") ?? value("AWS_DEFAULT_PROFILE")
        func fromFiles() throws -> Source? {
            let name = profile ?? "default"
            let credentialsFile = value("AWS_SHARED_CREDENTIALS_FILE") ?? home + "/.aws/credentials"
            let configFile = value("AWS_CONFIG_FILE") ?? home + "/.aws/config"
            if let found = try AWSSharedFiles.credentials(profile: name, credentialsFile: credentialsFile, configFile: configFile) {
                return .profile(found, name: name)
            }
            if profile != nil {
                throw AWSCredentialError(
                    description:
                        "AWS_PROFILE '\(name)' has no aws_access_key_id and aws_secret_access_key in \(credentialsFile) or \(configFile)")
            }
            return nil
        }
        if profile != nil, let source = try fromFiles() { return source }
        if let key = value("AWS_ACCESS_KEY_ID"), let secret = value("AWS_SECRET_ACCESS_KEY") {
            return .environment(
                AWSCredentials(accessKeyID: key, secretAccessKey: Secret(secret), sessionToken: value("AWS_SESSION_TOKEN").map(Secret.init))
            )
        }
        if let file = value("AWS_WEB_IDENTITY_TOKEN_FILE"), let role = value("AWS_ROLE_ARN") {
            let sts =
                value("AWS_ENDPOINT_URL_STS") ?? value("AWS_ENDPOINT_URL")
                ?? region.map { "https://sts.\($0).amazonaws.com" } ?? "https://sts.amazonaws.com"
            guard let url = URL(string: sts) else { throw AWSCredentialError(description: "'\(sts)' is not a URL for STS") }
            return .webIdentity(tokenFile: file, roleARN: role, sessionName: value("AWS_ROLE_SESSION_NAME") ?? "perimeter", sts: url)
        }
        if let source = try fromFiles() { return source }
        if let relative = value("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"), let url = URL(string: "http://169.254.170.2" + relative) {
            return .container(url, authorization: nil, authorizationFile: nil)
        }
        if let full = value("AWS_CONTAINER_CREDENTIALS_FULL_URI"), let url = URL(string: full) {
            return .container(
                url, authorization: value("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
                authorizationFile: value("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"))
        }
        if value("AWS_EC2_METADATA_DISABLED")?.lowercased() != "true" {
            let base = value("AWS_EC2_METADATA_SERVICE_ENDPOINT") ?? "http://169.254.169.254"
            guard let url = URL(string: base) else { throw AWSCredentialError(description: "'\(base)' is not a URL for instance metadata") }
            return .instanceMetadata(url)
        }
        throw AWSCredentialError(
            description:
                "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a web identity (AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN), AWS_PROFILE, or run on ECS or EC2 with a role"
        )
    }
}
