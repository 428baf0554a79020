import Foundation
import PerimeterCore

/// How a provider signs its calls to AWS with SigV4: the region and service of the signature, and the
/// credentials as secret references (never values), read when a call is signed; or, with no
/// references, the AWS default credential chain (``AWSCredentialChain``: a web identity, a role).
public struct AWSSigningSettings: Sendable, Hashable {
    public var region: String
    public var service: String
    public var accessKeyID: SecretReference?
    public var secretAccessKey: SecretReference?
    public var sessionToken: SecretReference?

    /// Signs with the default credential chain's credentials.
    public static func defaultChain(region: String, service: String) -> AWSSigningSettings {
        AWSSigningSettings(region: region, service: service, accessKeyID: nil, secretAccessKey: nil)
    }

    public var usesDefaultChain: Bool { accessKeyID == nil }

    public init(
        region: String, service: String, accessKeyID: SecretReference?, secretAccessKey: SecretReference?,
        sessionToken: SecretReference? = nil
    ) {
        self.region = region
        self.service = service
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// Every reference, with the configuration field it came from.
    public var references: [(reference: SecretReference, field: String)] {
        [(accessKeyID, "aws_access_key_id"), (secretAccessKey, "aws_secret_access_key"), (sessionToken, "aws_session_token")]
            .compactMap { reference, field in reference.map { ($0, field) } }
    }

    /// The signer for the credentials the references hold now.
    public func signer(resolver: SecretResolver) async throws -> SigV4Signer {
        guard let accessKeyID, let secretAccessKey else {
            throw AWSCredentialError(description: "no AWS credential references: the default chain signs these calls")
        }
        let keyID = try await resolver.secret(for: accessKeyID).revealed.trimmingCharacters(in: .whitespacesAndNewlines)
        let secret = try await resolver.secret(for: secretAccessKey)
        var token: Secret?
        if let sessionToken { token = try await resolver.secret(for: sessionToken) }
        return SigV4Signer(
            credentials: AWSCredentials(accessKeyID: keyID, secretAccessKey: secret, sessionToken: token), region: region,
            service: service)
    }
}
