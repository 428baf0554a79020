import Crypto
import Foundation
import PerimeterCore

/// Seals a rotation's answer for a retry under a key only a retry can make: derived from the
/// Idempotency-Key it sends (which the store never sees) and, when the gateway has a master key shared
/// by its instances, from that too, so a copy of the database alone does not open it even when the
/// Idempotency-Key is guessable.
struct RotationReplaySeal: Sendable {
    /// Mixed into every derivation; `nil` when there is no shared master key.
    let pepper: SymmetricKey?

    /// What a rotation's answer holds besides the key itself, which a replay reads afresh.
    struct Answer: Codable, Sendable, Equatable {
        var secret: String
        var generation: Int
        var previousGeneration: Int
        var previousRetiresAt: Date
        var deliveredTo: String?
    }

    private var pepperBytes: [UInt8] { pepper?.withUnsafeBytes { Array($0) } ?? [] }

    /// The name the store files the answer under: a keyed hash of the Idempotency-Key.
    func lookup(_ idempotencyKey: String) -> String {
        let key = SymmetricKey(data: Array("perimeter rotation replay lookup".utf8) + pepperBytes)
        return Hex.encode(Array(HMAC<SHA256>.authenticationCode(for: Array(idempotencyKey.utf8), using: key)))
    }

    private func sealingKey(_ idempotencyKey: String, keyID: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Array(idempotencyKey.utf8)), salt: pepperBytes,
            info: Array("perimeter rotation replay v1\u{0}\(keyID)".utf8), outputByteCount: 32)
    }

    func seal(_ answer: Answer, idempotencyKey: String, keyID: String) throws -> [UInt8] {
        let plaintext = try JSONEncoder().encode(answer)
        let box = try AES.GCM.seal(plaintext, using: sealingKey(idempotencyKey, keyID: keyID))
        guard let combined = box.combined else { throw SealFailure() }
        return Array(combined)
    }

    /// The answer, or `nil` when it cannot be opened with this Idempotency-Key and pepper.
    func open(_ sealed: [UInt8], idempotencyKey: String, keyID: String) -> Answer? {
        guard let box = try? AES.GCM.SealedBox(combined: sealed),
            let plaintext = try? AES.GCM.open(box, using: sealingKey(idempotencyKey, keyID: keyID))
        else { return nil }
        return try? JSONDecoder().decode(Answer.self, from: plaintext)
    }

    struct SealFailure: Error {}
}
