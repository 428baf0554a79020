import Foundation
import Testing
import _CryptoExtras

@testable import PerimeterSecrets

@Suite struct RS256JWTTests {
    static let key = try! _RSA.Signing.PrivateKey(keySize: .bits2048)

    func decoded(_ part: Substring) throws -> [String: Any] {
        let data = try #require(RS256JWT.decodeBase64URL(String(part)))
        return try #require(JSONValue.object(Array(data)))
    }

    @Test func signsWithPKCS1v15SHA256OverHeaderAndClaims() throws {
        // A PKCS#8 PEM, as Google's key files hold it.
        let signer = try RS256JWT(pemRepresentation: Self.key.pkcs8PEMRepresentation)
        let token = try signer.sign(header: ["kid": "key-1"], claims: ["iss": "a@b", "iat": 1_790_000_000, "aud": ["x", "y"]])
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        #expect(parts.count == 3 && !token.contains("=") && !token.contains("+") && !token.contains("/"))
        let header = try decoded(parts[0])
        #expect(header["alg"] as? String == "RS256" && header["typ"] as? String == "JWT" && header["kid"] as? String == "key-1")
        let claims = try decoded(parts[1])
        #expect(claims["iss"] as? String == "a@b" && claims["iat"] as? Int == 1_790_000_000 && claims["aud"] as? [String] == ["x", "y"])
        // Verified independently of the signer: PKCS#1 v1.5 over SHA-256 of "header.claims".
        let signature = _RSA.Signing.RSASignature(rawRepresentation: try #require(RS256JWT.decodeBase64URL(String(parts[2]))))
        #expect(
            Self.key.publicKey.isValidSignature(signature, for: Data("\(parts[0]).\(parts[1])".utf8), padding: .insecurePKCS1v1_5))
        #expect(!Self.key.publicKey.isValidSignature(signature, for: Data("\(parts[0]).\(parts[1])".utf8), padding: .PSS))
        #expect(RS256JWT.isValidSignature(token, publicKey: Self.key.publicKey))
    }

    @Test func aChangedClaimOrAnotherKeyDoesNotVerify() throws {
        let signer = RS256JWT(key: Self.key)
        let token = try signer.sign(claims: ["iss": "a@b"])
        let parts = token.split(separator: ".").map(String.init)
        let forged = [parts[0], RS256JWT.base64URL(Data(#"{"iss":"evil@b"}"#.utf8)), parts[2]].joined(separator: ".")
        #expect(!RS256JWT.isValidSignature(forged, publicKey: Self.key.publicKey))
        let other = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        #expect(!RS256JWT.isValidSignature(token, publicKey: other.publicKey))
        #expect(!RS256JWT.isValidSignature(parts[0] + "." + parts[1], publicKey: Self.key.publicKey))
    }

    @Test func theAlgorithmCannotBeChangedAndATypCan() throws {
        let token = try RS256JWT(key: Self.key).sign(header: ["alg": "none", "typ": "at+jwt"], claims: [:])
        let header = try decoded(token.split(separator: ".")[0])
        #expect(header["alg"] as? String == "RS256" && header["typ"] as? String == "at+jwt")
    }

    @Test func aSmallKeyOrNotAKeyIsRefused() throws {
        let small = try _RSA.Signing.PrivateKey(unsafeKeySize: .init(bitCount: 1024))
        #expect(throws: (any Error).self) { try RS256JWT(pemRepresentation: small.pemRepresentation) }
        #expect(throws: (any Error).self) {
            try RS256JWT(pemRepresentation: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")
        }
    }
}
