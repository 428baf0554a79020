import Hummingbird
import PerimeterAdminModels
import PerimeterCore
import PerimeterProxy
import PerimeterSecrets
import PerimeterStorage

/// `POST /admin/v1/fingerprints`: keyed fingerprints of every virtual key and of every provider
/// credential held in memory, for `perimeter scan` to recognise the keys it finds.
///
/// The scanner sends a fresh random salt; each fingerprint is HMAC-SHA256(salt, SHA-256 of the
/// secret) (``KeyFingerprint``). Virtual keys are stored as SHA-256 digests only, so no plaintext is
/// needed, and nothing in the answer is of use without the salt or for another scan.
struct FingerprintRoutes: Sendable {
    let keys: any KeyStore
    let resolver: SecretResolver

    struct Body: Decodable {
        var salt: String

        enum CodingKeys: String, CodingKey, CaseIterable { case salt }

        init(from decoder: any Decoder) throws {
            try decoder.refuseUnknownKeys(of: CodingKeys.self)
            salt = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .salt)
        }
    }

    struct KeyRow: Encodable {
        var id: String
        var fingerprint: String
    }

    struct CredentialRow: Encodable {
        var reference: String
        var fingerprint: String
    }

    struct Answer: Encodable {
        var keys: [KeyRow]
        var credentials: [CredentialRow]
    }

    /// Registers the route on the authenticated admin group.
    func register(on authenticated: RouterGroup<GatewayContext>) {
        authenticated.post("fingerprints") { request, context in
            let body = try await AdminRoutes.decode(Body.self, from: request, expecting: "'salt' (64 hex characters)")
            guard AdminContract.salt.matches(body.salt), body.salt.utf8.count == 2 * KeyFingerprint.saltLength,
                let salt = Hex.decode(body.salt)
            else {
                throw GatewayError.invalidRequest("'salt' must be 64 hex characters (32 random bytes).")
            }
            // Every secret a key still answers to (rotated ones in their grace period too). Canary keys are
            // left out: they are planted on purpose, and a scan must not revoke the decoy.
            let keyRows = try await keys.allKeys().filter { !$0.isCanary }.flatMap { key in
                ([key.digest] + key.retiredSecrets.map(\.digest)).map {
                    KeyRow(id: key.id, fingerprint: KeyFingerprint.fingerprint(of: $0, salt: salt))
                }
            }
            let credentialRows = resolver.cachedSecrets.map { reference, secret in
                CredentialRow(
                    reference: reference.description, fingerprint: KeyFingerprint.fingerprint(of: KeyDigest(of: secret), salt: salt))
            }
            context.logger.notice(
                "admin: key fingerprints computed",
                metadata: [
                    "perimeter.admin": "\(context.admin?.name ?? "?")", "perimeter.fingerprints": "\(keyRows.count + credentialRows.count)",
                ])
            return try AdminRoutes.json(Answer(keys: keyRows, credentials: credentialRows))
        }
    }
}
