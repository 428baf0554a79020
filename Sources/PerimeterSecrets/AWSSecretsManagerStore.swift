import Foundation
import PerimeterCore

/// Where and as whom the gateway calls AWS Secrets Manager.
public struct AWSSecretsManagerConfiguration: Sendable {
    public var region: String
    public var endpoint: URL
    /// Fixed credentials (tests); when nil, the default chain over `environment` (``AWSCredentialChain``).
    public var credentials: AWSCredentials?
    public var environment: [String: String] = [:]

    public init(region: String, endpoint: URL, credentials: AWSCredentials?, environment: [String: String] = [:]) {
        self.region = region
        self.endpoint = endpoint
        self.credentials = credentials
        self.environment = environment
    }

    /// From the variables the AWS SDKs read: the credential chain's (see ``AWSCredentialChain``),
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`), and the endpoint from `AWS_ENDPOINT_URL_SECRETS_MANAGER`
    /// or `AWS_ENDPOINT_URL`. `region` and `endpoint` from config win.
    public static func from(
        environment: [String: String], region: String? = nil, endpoint: String? = nil
    ) throws(AWSConfigurationError) -> AWSSecretsManagerConfiguration {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        guard let region = region ?? value("AWS_REGION") ?? value("AWS_DEFAULT_REGION") else { throw .missingRegion }
        let endpointText =
            endpoint ?? value("AWS_ENDPOINT_URL_SECRETS_MANAGER") ?? value("AWS_ENDPOINT_URL")
            ?? "https://secretsmanager.\(region).amazonaws.com"
        guard let url = URL(string: endpointText), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil
        else { throw .badEndpoint(endpointText) }
        do {
            _ = try AWSCredentialChain.source(environment, region: region)
        } catch {
            throw .missingCredentials((error as? AWSCredentialError)?.description ?? "\(error)")
        }
        return AWSSecretsManagerConfiguration(region: region, endpoint: url, credentials: nil, environment: environment)
    }
}

public enum AWSConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    case missingCredentials(String)
    case missingRegion
    case badEndpoint(String)

    public var description: String {
        switch self {
        case .missingCredentials(let reason): "aws-sm: references need AWS credentials: \(reason)"
        case .missingRegion: "aws-sm: references need a region: set secrets.aws.region or AWS_REGION"
        case .badEndpoint(let text): "'\(text)' is not an http(s) URL for AWS Secrets Manager"
        }
    }
}

/// `aws-sm:SECRET_ID[#JSON_FIELD]`: `GetSecretValue` over Secrets Manager's JSON protocol, signed
/// with Signature Version 4. With `#FIELD`, the secret string is a JSON object and the value is that
/// field; without, the whole secret string.
public struct AWSSecretsManagerStore: WritableSecretStore {
    private let configuration: AWSSecretsManagerConfiguration
    private let transport: any SecretHTTPTransport
    private let credentials: any AWSCredentialProvider
    private let clock: @Sendable () -> Date

    public init(
        configuration: AWSSecretsManagerConfiguration, transport: any SecretHTTPTransport,
        clock: @escaping @Sendable () -> Date = Date.init
    ) {
        self.configuration = configuration
        self.transport = transport
        credentials =
            configuration.credentials.map { StaticAWSCredentials($0) as any AWSCredentialProvider }
            ?? AWSCredentialChain(environment: configuration.environment, region: configuration.region, transport: transport, clock: clock)
        self.clock = clock
    }

    /// `PutSecretValue` (a new version becomes `AWSCURRENT`), or `CreateSecret` when the secret does
    /// not exist yet. With `#FIELD`, that field of the JSON secret string is set and the others kept.
    public func write(_ secret: Secret, to reference: SecretReference) async throws -> String? {
        var string = secret.revealed
        var exists = true
        if let field = reference.field {
            var object: [String: Any] = [:]
            do {
                let current = try await call("GetSecretValue", ["SecretId": reference.location], reference)
                if let text = current["SecretString"] as? String {
                    guard let parsed = JSONValue.object(Array(text.utf8)) else {
                        throw SecretStoreError.unreadable(
                            reference, reason: "the secret string is not a JSON object, so #\(field) cannot be set")
                    }
                    object = parsed
                }
            } catch SecretStoreError.notFound {
                exists = false
            }
            object[field] = secret.revealed
            string = String(
                decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
        }
        let token = UUID().uuidString.lowercased()
        if exists {
            do {
                let answer = try await call(
                    "PutSecretValue", ["SecretId": reference.location, "SecretString": string, "ClientRequestToken": token], reference)
                return answer["VersionId"] as? String
            } catch SecretStoreError.notFound {}
        }
        let answer = try await call(
            "CreateSecret", ["Name": reference.location, "SecretString": string, "ClientRequestToken": token], reference)
        return answer["VersionId"] as? String
    }

    public func fetch(_ reference: SecretReference) async throws -> FetchedSecret {
        let answer = try await call("GetSecretValue", ["SecretId": reference.location], reference)
        guard let string = answer["SecretString"] as? String else {
            throw SecretStoreError.unreadable(reference, reason: "the secret has no SecretString (binary secrets are not supported)")
        }
        let version = answer["VersionId"] as? String
        let created = (answer["CreatedDate"] as? NSNumber).map { Date(timeIntervalSince1970: $0.doubleValue) }
        guard let field = reference.field else {
            guard !string.isEmpty else { throw SecretStoreError.unreadable(reference, reason: "the secret string is empty") }
            return FetchedSecret(Secret(string), version: version, createdAt: created)
        }
        guard let object = JSONValue.object(Array(string.utf8)) else {
            throw SecretStoreError.unreadable(reference, reason: "the secret string is not a JSON object, so #\(field) cannot be read")
        }
        guard let value = object[field] as? String, !value.isEmpty else {
            throw SecretStoreError.notFound(
                reference,
                hint: "the secret's JSON has no string field '\(field)'; its fields are \(object.keys.sorted().joined(separator: ", "))")
        }
        return FetchedSecret(Secret(value), version: version, createdAt: created)
    }

    /// One signed call of Secrets Manager's JSON protocol; its answer, or an error that says what AWS said.
    private func call(_ action: String, _ parameters: [String: Any], _ reference: SecretReference) async throws -> [String: Any] {
        let body = JSONValue.encode(parameters)
        let base = configuration.endpoint.absoluteString
        let url = configuration.endpoint.path.isEmpty ? URL(string: base + "/")! : configuration.endpoint
        let current: AWSCredentials
        do {
            current = try await credentials.credentials()
        } catch {
            throw SecretStoreError.unreachable(reference, reason: "no AWS credentials to sign with: \(error)")
        }
        let signer = SigV4Signer(credentials: current, region: configuration.region, service: "secretsmanager")
        let headers = signer.sign(
            method: "POST", url: url,
            headers: [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "secretsmanager.\(action)")],
            body: body, date: clock())
        let response: SecretHTTPResponse
        do {
            response = try await transport.send(SecretHTTPRequest(method: "POST", url: url, headers: headers, body: body))
        } catch {
            throw SecretStoreError.unreachable(
                reference, reason: "cannot reach AWS Secrets Manager at \(configuration.endpoint.absoluteString) (\(error))")
        }
        let answer = JSONValue.object(response.body) ?? [:]
        guard response.status == 200 else {
            // Errors are `{"__type": "...#ResourceNotFoundException", "message": "..."}` (or "Message").
            let type =
                (answer["__type"] as? String).map { $0.split(separator: "#").last.map(String.init) ?? $0 } ?? "HTTP \(response.status)"
            let message = (answer["message"] as? String) ?? (answer["Message"] as? String) ?? ""
            let detail = message.isEmpty ? type : "\(type): \(message)"
            if type == "ResourceNotFoundException" {
                throw SecretStoreError.notFound(reference, hint: detail)
            }
            if response.status >= 500 || response.status == 429 || type == "ThrottlingException" || type == "InternalServiceError" {
                throw SecretStoreError.unreachable(reference, reason: "AWS Secrets Manager answered \(detail)")
            }
            throw SecretStoreError.unreadable(reference, reason: "AWS Secrets Manager answered \(detail)")
        }
        return answer
    }
}
