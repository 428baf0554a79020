import Crypto
import Testing

@testable import PerimeterCore

@Suite struct KeyFingerprintTests {
    @Test func isTheHMACOfTheDigestKeyedByTheSalt() {
        let salt = [UInt8](repeating: 7, count: 32)
        let digest = KeyDigest(of: "prm_dev_secret")
        let expected = HMAC<SHA256>.authenticationCode(
            for: Array(SHA256.hash(data: Array("prm_dev_secret".utf8))), using: SymmetricKey(data: salt))
        #expect(KeyFingerprint.fingerprint(of: digest, salt: salt) == Hex.encode(Array(expected)))
        #expect(KeyFingerprint.fingerprint(of: digest, salt: [UInt8](repeating: 8, count: 32)) != Hex.encode(Array(expected)))
        #expect(KeyFingerprint.makeSalt().count == 32 && KeyFingerprint.makeSalt() != KeyFingerprint.makeSalt())
    }

    @Test func digestBytesAndHexAgree() {
        let digest = KeyDigest(of: "abc")
        #expect(digest.hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(KeyDigest(bytes: digest.bytes) == digest)
        #expect(KeyDigest(hex: digest.hex.uppercased()) == digest)
        #expect(Hex.decode("0aFf") == [0x0A, 0xFF])
        #expect(Hex.decode("0g") == nil && Hex.decode("abc") == nil)
    }
}
