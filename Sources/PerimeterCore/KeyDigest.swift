import Crypto

/// The SHA-256 of a key's plaintext: what the stores keep instead of the key.
///
/// Equality is constant time (it folds every word before deciding), so comparing a presented key's
/// digest with a stored one reveals nothing about where they differ.
public struct KeyDigest: Sendable, Hashable {
    private let words: (UInt64, UInt64, UInt64, UInt64)

    public init(of plaintext: String) {
        let digest = SHA256.hash(data: Array(plaintext.utf8))
        var bytes = [UInt8]()
        bytes.reserveCapacity(32)
        bytes.append(contentsOf: digest)
        self.init(bytes: bytes)!
    }

    public init(of secret: Secret) {
        self.init(of: secret.revealed)
    }

    /// From the 32 raw digest bytes.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        func word(_ offset: Int) -> UInt64 {
            var value: UInt64 = 0
            for index in offset..<offset + 8 { value = value << 8 | UInt64(bytes[index]) }
            return value
        }
        words = (word(0), word(8), word(16), word(24))
    }

    /// From 64 lowercase or uppercase hex characters.
    public init?(hex: String) {
        guard hex.utf8.count == 64, let bytes = Hex.decode(hex) else { return nil }
        self.init(bytes: bytes)
    }

    /// The 32 raw digest bytes.
    public var bytes: [UInt8] {
        [words.0, words.1, words.2, words.3].flatMap { word in
            stride(from: 56, through: 0, by: -8).map { UInt8(truncatingIfNeeded: word >> UInt64($0)) }
        }
    }

    public var hex: String { Hex.encode(bytes) }

    public static func == (lhs: KeyDigest, rhs: KeyDigest) -> Bool {
        let difference =
            (lhs.words.0 ^ rhs.words.0) | (lhs.words.1 ^ rhs.words.1)
            | (lhs.words.2 ^ rhs.words.2) | (lhs.words.3 ^ rhs.words.3)
        return difference == 0
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
    }
}

extension KeyDigest: CustomStringConvertible {
    public var description: String { "sha256:\(hex.prefix(12))…" }
}

extension KeyDigest: Codable {
    /// As 64 lowercase hex digits.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let digest = KeyDigest(hex: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a 64-digit hex digest")
        }
        self = digest
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}
