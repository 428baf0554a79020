import Foundation
import _CryptoExtras

/// A JSON Web Token signed with RS256 (RSASSA-PKCS1-v1_5 with SHA-256, RFC 7518 §3.3), in compact
/// form (RFC 7519): what an OAuth client assertion is made of (Google's service-account JWT bearer
/// grant, RFC 7523; Entra ID's certificate credentials).
///
/// The header always says `"alg": "RS256"` and, unless given otherwise, `"typ": "JWT"`; other fields
/// (`kid`, `x5t#S256`) are the caller's. Claims are any JSON values (strings, numbers, arrays).
public struct RS256JWT: Sendable {
    private let key: _RSA.Signing.PrivateKey

    public init(key: _RSA.Signing.PrivateKey) {
        self.key = key
    }

    /// A key from its PEM (`BEGIN PRIVATE KEY`, PKCS#8, as Google's key files hold it, or
    /// `BEGIN RSA PRIVATE KEY`), of 2048 bits or more.
    public init(pemRepresentation: String) throws {
        key = try _RSA.Signing.PrivateKey(pemRepresentation: pemRepresentation)
    }

    public var publicKey: _RSA.Signing.PublicKey { key.publicKey }

    /// `base64url(header).base64url(claims).base64url(signature)`.
    public func sign(header: [String: String] = [:], claims: [String: Any]) throws -> String {
        var fields = header
        fields["alg"] = "RS256"
        if fields["typ"] == nil { fields["typ"] = "JWT" }
        guard JSONSerialization.isValidJSONObject(claims) else { throw RS256JWTError.claimsAreNotJSON }
        let options: JSONSerialization.WritingOptions = [.sortedKeys, .withoutEscapingSlashes]
        let signingInput =
            Self.base64URL(try JSONSerialization.data(withJSONObject: fields, options: options)) + "."
            + Self.base64URL(try JSONSerialization.data(withJSONObject: claims, options: options))
        let signature = try key.signature(for: Data(signingInput.utf8), padding: .insecurePKCS1v1_5)
        return signingInput + "." + Self.base64URL(signature.rawRepresentation)
    }

    /// Whether `token` is a compact RS256 JWT that `publicKey` signed (for tests and doubles; it reads
    /// no claim).
    public static func isValidSignature(_ token: String, publicKey: _RSA.Signing.PublicKey) -> Bool {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let signature = decodeBase64URL(String(parts[2])) else { return false }
        let signingInput = Data("\(parts[0]).\(parts[1])".utf8)
        return publicKey.isValidSignature(
            _RSA.Signing.RSASignature(rawRepresentation: signature), for: signingInput, padding: .insecurePKCS1v1_5)
    }

    /// Base64url without padding (RFC 7515 §2).
    public static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func decodeBase64URL(_ text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}

public enum RS256JWTError: Error, Sendable, CustomStringConvertible {
    case claimsAreNotJSON

    public var description: String { "the JWT's claims are not a JSON object" }
}
