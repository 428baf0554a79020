import Foundation
import PerimeterCore

/// How a provider signs its calls to AWS with SigV4: the region and service of the signature, and the
/// credentials as secret references (never values), read when a call is signed.
public struct AWSSigningSettings: Sendable, Hashable {
    public var region: String
    public var service: String
    public var accessKeyID: SecretReference
    public var secretAccessKey: SecretReference
    public var sessionToken: SecretReference?

    public init(
        region: String, service: String, accessKeyID: SecretReference, secretAccessKey: SecretReference,
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
        [(accessKeyID, "aws_access_key_id"), (secretAccessKey, "aws_secret_access_key")]
            + (sessionToken.map { [($0, "aws_session_token")] } ?? [])
    }

    /// The signer for the credentials the references hold now.
    public func signer(resolver: SecretResolver) async throws -> SigV4Signer {
        let keyID = try await resolver.secret(for: accessKeyID).revealed.trimmingCharacters(in: .whitespacesAndNewlines)
        let secret = try await resolver.secret(for: secretAccessKey)
        var token: Secret?
        if let sessionToken { token = try await resolver.secret(for: sessionToken) }
        return SigV4Signer(
            credentials: AWSCredentials(accessKeyID: keyID, secretAccessKey: secret, sessionToken: token), region: region,
            service: service)
    }
}
