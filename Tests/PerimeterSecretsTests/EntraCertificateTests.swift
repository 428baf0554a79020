import Crypto
import Foundation
import PerimeterCore
import Testing
import _CryptoExtras

@testable import PerimeterSecrets

/// The certificate credential: the signed client assertion, its header and claims, and the file's refusals.
@Suite struct EntraCertificateTests {
    static let key = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    /// Stands in for the certificate's DER: only its thumbprints are sent, and Entra ID checks the rest.
    static let certificate: [UInt8] = Array("a certificate's DER, for its thumbprints".utf8)

    func pemFile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("entra-\(UUID().uuidString).pem").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    var pem: String {
        Self.key.pemRepresentation + "\n-----BEGIN CERTIFICATE-----\n"
            + Data(Self.certificate).base64EncodedString(options: .lineLength64Characters)
            + "\n-----END CERTIFICATE-----\n"
    }

    func decode(_ part: Substring) throws -> [String: Any] {
        let data = try #require(RS256JWT.decodeBase64URL(String(part)))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func theAssertionIsSignedWithTheKeyAndNamesTheCertificate() async throws {
        let file = try pemFile(pem)
        let tokenURL = EntraGrant.tokenURL(authority: EntraGrant.defaultAuthority, tenantID: "contoso")
        let grant = EntraGrant.clientCertificate(tokenURL: tokenURL, clientID: "app-cert", certificateFile: file)
        let request = try await grant.request(scope: AzureKeyVaultStore.scope)
        let form = EntraGrantTests().form(request)
        #expect(request.url == tokenURL && form["grant_type"] == "client_credentials" && form["client_id"] == "app-cert")
        #expect(form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" && form["client_secret"] == nil)
        let assertion = try #require(form["client_assertion"])
        #expect(RS256JWT.isValidSignature(assertion, publicKey: Self.key.publicKey))
        let other = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        #expect(!RS256JWT.isValidSignature(assertion, publicKey: other.publicKey))
        let parts = assertion.split(separator: ".")
        let header = try decode(parts[0])
        #expect(header["alg"] as? String == "RS256" && header["typ"] as? String == "JWT")
        #expect(header["x5t#S256"] as? String == RS256JWT.base64URL(Data(SHA256.hash(data: Self.certificate))))
        #expect(header["x5t"] as? String == RS256JWT.base64URL(Data(Insecure.SHA1.hash(data: Self.certificate))))
        let claims = try decode(parts[1])
        #expect(claims["aud"] as? String == "https://login.microsoftonline.com/contoso/oauth2/v2.0/token")
        #expect(claims["iss"] as? String == "app-cert" && claims["sub"] as? String == "app-cert")
        let nbf = try #require(claims["nbf"] as? Int)
        let exp = try #require(claims["exp"] as? Int)
        #expect(exp - nbf == 600 && abs(Double(nbf) - Date().timeIntervalSince1970) < 60)
        // A fresh jti each time, so a captured assertion is not the next one.
        let next = EntraGrantTests().form(try await grant.request(scope: AzureKeyVaultStore.scope))["client_assertion"]
        let nextClaims = try decode(try #require(next?.split(separator: ".")[1]))
        #expect(claims["jti"] as? String != nil && claims["jti"] as? String != nextClaims["jti"] as? String)
    }

    @Test(arguments: [
        ("no certificate", "holds no CERTIFICATE block"),
        ("encrypted", "encrypted one cannot be opened"),
        ("short key", "not an RSA key of 2048 bits"),
        ("missing", "cannot read the client certificate file"),
    ])
    func aFileThatCannotSignSaysWhyWithoutItsContent(kind: String, expected: String) throws {
        let certificateBlock =
            "-----BEGIN CERTIFICATE-----\n" + Data(Self.certificate).base64EncodedString() + "\n-----END CERTIFICATE-----\n"
        let text: String
        switch kind {
        case "no certificate": text = Self.key.pemRepresentation
        case "encrypted":
            text =
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nTUlJRkhEQk9CZ2txaGtpRzl3MEJCUTB3UWpBaEJna3Foa2lHOXcwQkJRd3dGQVFJ\n-----END ENCRYPTED PRIVATE KEY-----\n"
                + certificateBlock
        case "short key":
            text = try _RSA.Signing.PrivateKey(unsafeKeySize: .init(bitCount: 1024)).pemRepresentation + "\n" + certificateBlock
        default: text = ""
        }
        let path = kind == "missing" ? "/nonexistent/entra.pem" : try pemFile(text)
        let error = #expect(throws: EntraTokenFailure.self) { try EntraCertificate.check(pemFile: path) }
        let description = error?.description ?? ""
        #expect(description.contains(expected) && description.contains(path), "\(description)")
        #expect(!description.contains("BEGIN") && !description.contains("TUlJ"))
    }
}
