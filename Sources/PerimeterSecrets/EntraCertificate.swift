import Crypto
import Foundation
import _CryptoExtras

/// A certificate credential of an app registration, from one PEM file holding the private key and the
/// certificate, as the Azure SDKs read `AZURE_CLIENT_CERTIFICATE_PATH`.
///
/// Wire format ("Microsoft identity platform application authentication certificate credentials"):
/// the client credentials request carries `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`
/// and `client_assertion`, a JWT signed with the certificate's key (RS256) whose header names the
/// certificate by its thumbprints, `x5t#S256` (base64url of the SHA-256 of its DER) and `x5t` (SHA-1),
/// and whose claims are `aud` (the token endpoint), `iss` = `sub` (the client id), a fresh `jti`,
/// `nbf`, `iat` and `exp` (ten minutes on).
public struct EntraCertificate: Sendable {
    let signer: RS256JWT
    let certificate: [UInt8]

    static let lifetime: TimeInterval = 600

    /// Reads `path`; errors name the file and what is missing, never its content.
    init(pemFile path: String) throws(EntraTokenFailure) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EntraTokenFailure(description: "cannot read the client certificate file \(path)")
        }
        try self.init(pem: String(decoding: data, as: UTF8.self), file: path)
    }

    init(pem text: String, file: String) throws(EntraTokenFailure) {
        let blocks = Self.blocks(text)
        guard let certificate = blocks.first(where: { $0.label == "CERTIFICATE" }) else {
            throw EntraTokenFailure(description: "the client certificate file \(file) holds no CERTIFICATE block")
        }
        guard let key = blocks.first(where: { $0.label == "PRIVATE KEY" || $0.label == "RSA PRIVATE KEY" }) else {
            let encrypted = blocks.contains { $0.label == "ENCRYPTED PRIVATE KEY" }
            throw EntraTokenFailure(
                description: "the client certificate file \(file) holds no "
                    + (encrypted ? "unencrypted private key (an encrypted one cannot be opened without its password)" : "PRIVATE KEY block")
            )
        }
        do {
            signer = try RS256JWT(pemRepresentation: key.pem)
        } catch {
            throw EntraTokenFailure(description: "the private key in \(file) is not an RSA key of 2048 bits or more")
        }
        self.certificate = certificate.der
    }

    /// Checks that `path` holds a usable key and certificate, at start-up; the file is read again at each token request.
    public static func check(pemFile path: String) throws(EntraTokenFailure) {
        _ = try EntraCertificate(pemFile: path)
    }

    /// The signed client assertion for `clientID` at `tokenURL`.
    func assertion(clientID: String, tokenURL: URL, now: Date) throws -> String {
        let seconds = Int(now.timeIntervalSince1970)
        return try signer.sign(
            header: [
                "x5t#S256": RS256JWT.base64URL(Data(SHA256.hash(data: certificate))),
                "x5t": RS256JWT.base64URL(Data(Insecure.SHA1.hash(data: certificate))),
            ],
            claims: [
                "aud": tokenURL.absoluteString, "iss": clientID, "sub": clientID, "jti": UUID().uuidString.lowercased(),
                "nbf": seconds, "iat": seconds, "exp": seconds + Int(Self.lifetime),
            ])
    }

    /// The PEM blocks of `text`: label, the block as PEM text, and its DER bytes.
    static func blocks(_ text: String) -> [(label: String, pem: String, der: [UInt8])] {
        var found: [(label: String, pem: String, der: [UInt8])] = []
        var label: String?
        var lines: [Substring] = []
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("-----BEGIN "), line.hasSuffix("-----") {
                label = String(line.dropFirst("-----BEGIN ".count).dropLast(5))
                lines = []
            } else if let current = label, line == "-----END \(current)-----" {
                let body = lines.joined()
                if let der = Data(base64Encoded: body) {
                    found.append(
                        (current, "-----BEGIN \(current)-----\n\(lines.joined(separator: "\n"))\n-----END \(current)-----\n", [UInt8](der)))
                }
                label = nil
            } else if label != nil, !line.contains(":") {
                lines.append(Substring(line))
            }
        }
        return found
    }
}
