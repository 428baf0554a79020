import Crypto

/// A keyed fingerprint of a secret: hex HMAC-SHA256 keyed by a one-time salt over the secret's
/// 32-byte SHA-256 digest.
///
/// The leak scanner and the gateway both compute it, so they can tell whether a key found in a
/// repository is one the gateway manages without either side sending a secret or a plain digest: a
/// fresh salt per scan makes the fingerprints useless for anything but that one comparison.
public enum KeyFingerprint {
    /// Salts are 32 random bytes, sent as 64 hex characters.
    public static let saltLength = 32

    public static func makeSalt() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<saltLength).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    /// The fingerprint of the secret whose SHA-256 digest is `digest`.
    public static func fingerprint(of digest: KeyDigest, salt: [UInt8]) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: digest.bytes, using: SymmetricKey(data: salt))
        return Hex.encode(Array(code))
    }
}
