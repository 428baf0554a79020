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
///    (`~/.aws/credentials`) or `AWS_CONFIG_FILE` (`~/.aws/config`, `[profile NAME]`): static keys, a
///    role assumed from another profile or a `credential_source`, a web identity, SSO, or a
///    `credential_process` (see ``AWSSharedFiles``);
/// 4. the ECS container endpoint: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (at 169.254.170.2) or
///    `AWS_CONTAINER_CREDENTIALS_FULL_URI` with `AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)`;
/// 5. EC2 instance metadata, IMDSv2 only: a session token from `PUT /latest/api/token`, then the role's
///    credentials (unless `AWS_EC2_METADATA_DISABLED=true`; `AWS_EC2_METADATA_SERVICE_ENDPOINT` moves it).
/// An explicitly set `AWS_PROFILE` puts the shared files first, as the SDKs do. Temporary credentials
/// are renewed ahead of expiry by ``ExpiringCredential``.
public actor AWSCredentialChain: AWSCredentialProvider {
    indirect enum Source: Equatable {
        case environment(AWSCredentials)
        case webIdentity(tokenFile: String, roleARN: String, sessionName: String, sts: URL)
        case profile(AWSCredentials, name: String)
        case process(command: String, profile: String)
        case assumeRole(AWSAssumeRole, from: Source, profile: String)
        case sso(AWSSSOProfile, profile: String)
        case container(URL, authorization: String?, authorizationFile: String?)
        case instanceMetadata(URL)

        var name: String {
            switch self {
            case .environment: "environment"
            case .webIdentity: "web-identity"
            case .profile(_, let name), .process(_, let name), .assumeRole(_, _, let name), .sso(_, let name): "profile:\(name)"
            case .container: "ecs-container"
            case .instanceMetadata: "ec2-instance-metadata"
            }
        }
    }

    let source: Result<Source, AWSCredentialError>
    private let environment: [String: String]
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
        self.environment = environment
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
        let task = fetching ?? Task { try await self.fetch(self.source.get()) }
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

    private func fetch(_ source: Source) async throws -> (AWSCredentials, Date?) {
        switch source {
        case .environment(let credentials), .profile(let credentials, _):
            return (credentials, nil)
        case .webIdentity(let file, let role, let session, let sts):
            return try await AWSCredentialSources.assumeRoleWithWebIdentity(
                tokenFile: file, roleARN: role, sessionName: session, sts: sts, transport: transport)
        case .process(let command, let profile):
            return try await AWSCredentialProcess.credentials(command: command, profile: profile, environment: environment)
        case .assumeRole(let role, let from, _):
            // The source's credentials are fetched anew at each renewal: they may be temporary too.
            let (credentials, _) = try await fetch(from)
            return try await AWSCredentialSources.assumeRole(role, with: credentials, transport: transport, now: clock())
        case .sso(let profile, _):
            return try await profile.credentials(transport: transport, now: clock())
        case .container(let url, let authorization, let file):
            return try await AWSCredentialSources.container(
                url, authorization: authorization, authorizationFile: file, transport: transport)
        case .instanceMetadata(let base):
            return try await AWSCredentialSources.instanceMetadata(base, transport: transport)
        }
    }

    static func source(_ environment: [String: String], region: String?) throws -> Source {
        let home = environment.nonEmpty("HOME") ?? NSHomeDirectory()
        let profile = environment.nonEmpty("AWS_PROFILE") ?? environment.nonEmpty("AWS_DEFAULT_PROFILE")
        let files = AWSSharedFiles(
            credentialsFile: environment.nonEmpty("AWS_SHARED_CREDENTIALS_FILE") ?? home + "/.aws/credentials",
            configFile: environment.nonEmpty("AWS_CONFIG_FILE") ?? home + "/.aws/config", environment: environment, region: region)
        func fromFiles() throws -> Source? {
            if let source = try files.source(profile: profile ?? "default") { return source }
            if let profile {
                throw AWSCredentialError(
                    description: "AWS_PROFILE '\(profile)' gives no credentials in \(files.credentialsFile) or \(files.configFile)")
            }
            return nil
        }
        if profile != nil, let source = try fromFiles() { return source }
        if let source = environmentSource(environment) { return source }
        if let file = environment.nonEmpty("AWS_WEB_IDENTITY_TOKEN_FILE"), let role = environment.nonEmpty("AWS_ROLE_ARN") {
            let (sts, _) = try files.stsEndpoint(region: nil)
            return .webIdentity(
                tokenFile: file, roleARN: role, sessionName: environment.nonEmpty("AWS_ROLE_SESSION_NAME") ?? "perimeter", sts: sts)
        }
        if let source = try fromFiles() { return source }
        if let source = containerSource(environment) { return source }
        if environment.nonEmpty("AWS_EC2_METADATA_DISABLED")?.lowercased() != "true" { return try instanceMetadataSource(environment) }
        throw AWSCredentialError(
            description:
                "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a web identity (AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN), AWS_PROFILE, or run on ECS or EC2 with a role"
        )
    }

    /// A profile's `credential_source`: where the credentials that assume its role come from.
    static func credentialSource(_ name: String, _ environment: [String: String]) throws -> Source {
        let found: Source?
        switch name {
        case "Environment": found = environmentSource(environment)
        case "EcsContainer": found = containerSource(environment)
        case "Ec2InstanceMetadata": found = try instanceMetadataSource(environment)
        default:
            throw AWSCredentialError(
                description: "credential_source '\(name)' is none of Environment, Ec2InstanceMetadata and EcsContainer")
        }
        guard let found else { throw AWSCredentialError(description: "credential_source \(name) finds no credentials") }
        return found
    }

    private static func environmentSource(_ environment: [String: String]) -> Source? {
        guard let key = environment.nonEmpty("AWS_ACCESS_KEY_ID"), let secret = environment.nonEmpty("AWS_SECRET_ACCESS_KEY") else {
            return nil
        }
        return .environment(
            AWSCredentials(
                accessKeyID: key, secretAccessKey: Secret(secret), sessionToken: environment.nonEmpty("AWS_SESSION_TOKEN").map(Secret.init))
        )
    }

    private static func containerSource(_ environment: [String: String]) -> Source? {
        if let relative = environment.nonEmpty("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
            let url = URL(string: "http://169.254.170.2" + relative)
        {
            return .container(url, authorization: nil, authorizationFile: nil)
        }
        if let full = environment.nonEmpty("AWS_CONTAINER_CREDENTIALS_FULL_URI"), let url = URL(string: full) {
            return .container(
                url, authorization: environment.nonEmpty("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
                authorizationFile: environment.nonEmpty("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"))
        }
        return nil
    }

    private static func instanceMetadataSource(_ environment: [String: String]) throws -> Source {
        let base = environment.nonEmpty("AWS_EC2_METADATA_SERVICE_ENDPOINT") ?? "http://169.254.169.254"
        guard let url = URL(string: base) else { throw AWSCredentialError(description: "'\(base)' is not a URL for instance metadata") }
        return .instanceMetadata(url)
    }
}
