import Crypto
import Foundation
import PerimeterCore
import PerimeterStorage

/// The 256-bit key that wraps every data key of the built-in store. It lives outside the database (an
/// environment variable or a 0600 file), so a copy of the database alone reveals nothing.
public struct MasterKey: Sendable {
    let key: SymmetricKey

    /// Names the key without revealing it: the first 8 bytes of an HMAC of a fixed label, in hex.
    public let id: String

    public init(bytes: [UInt8]) throws(MasterKeyError) {
        guard bytes.count == 32 else { throw .wrongLength(bytes.count) }
        key = SymmetricKey(data: bytes)
        let tag = HMAC<SHA256>.authenticationCode(for: Array("perimeter master key id".utf8), using: key)
        id = tag.prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    /// A key written as base64 text, as in `PERIMETER_MASTER_KEY` and key files.
    public init(base64 text: String) throws(MasterKeyError) {
        guard let data = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw .notBase64
        }
        try self.init(bytes: [UInt8](data))
    }

    /// A fresh random key.
    public static func generate() -> MasterKey {
        // 32 random bytes always make a valid key.
        try! MasterKey(bytes: SymmetricKey(size: .bits256).withUnsafeBytes { [UInt8]($0) })
    }

    /// A key of its own for another use (`label` names the use), derived so that it reveals nothing of
    /// the master key or of keys for other labels.
    public func derivedKey(for label: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: Array("perimeter derived key\u{0}\(label)".utf8), outputByteCount: 32)
    }

    /// The key as base64 text, for the key file it is created in.
    public var base64: Secret { Secret(key.withUnsafeBytes { Data($0) }.base64EncodedString()) }
}

extension MasterKey: CustomStringConvertible {
    public var description: String { "MasterKey(id: \(id))" }
}

public enum MasterKeyError: Error, Sendable, Hashable, CustomStringConvertible {
    case notBase64
    case wrongLength(Int)

    public var description: String {
        switch self {
        case .notBase64: "the master key is not base64 text"
        case .wrongLength(let count): "the master key must be 32 bytes (base64 of 32 random bytes), not \(count)"
        }
    }
}

/// Envelope encryption for the built-in store: each version of a secret is sealed with AES-256-GCM
/// under a data key of its own, and that data key is sealed with the master key.
///
/// Both seals authenticate the secret's name and version as associated data, so a record copied to
/// another name or version fails to open instead of yielding a valid but misplaced value.
public enum Envelope {
    public static func seal(_ value: Secret, name: String, version: Int, at time: Date, with master: MasterKey) throws
        -> SealedSecret
    {
        let dataKey = SymmetricKey(size: .bits256)
        let context = associatedData(name: name, version: version)
        let ciphertext = try AES.GCM.seal(Array(value.revealed.utf8), using: dataKey, authenticating: context + [0])
        let wrapped = try dataKey.withUnsafeBytes { bytes in
            try AES.GCM.seal(Array(bytes), using: master.key, authenticating: context + [1])
        }
        return SealedSecret(
            name: name, version: version, createdAt: time, masterKeyID: master.id, wrappedKey: [UInt8](wrapped.combined!),
            ciphertext: [UInt8](ciphertext.combined!))
    }

    /// The plaintext of `sealed`, or an error that says which part failed; never a wrong value.
    public static func open(_ sealed: SealedSecret, with master: MasterKey) throws(EnvelopeError) -> Secret {
        guard sealed.masterKeyID == master.id else {
            throw .wrongMasterKey(name: sealed.name, sealedWith: sealed.masterKeyID, loaded: master.id)
        }
        let context = associatedData(name: sealed.name, version: sealed.version)
        let dataKey: SymmetricKey
        do {
            let box = try AES.GCM.SealedBox(combined: sealed.wrappedKey)
            dataKey = SymmetricKey(data: try AES.GCM.open(box, using: master.key, authenticating: context + [1]))
        } catch {
            throw .tampered(name: sealed.name, version: sealed.version, part: "wrapped data key")
        }
        guard dataKey.bitCount == 256 else {
            throw .tampered(name: sealed.name, version: sealed.version, part: "wrapped data key")
        }
        let plaintext: Data
        do {
            let box = try AES.GCM.SealedBox(combined: sealed.ciphertext)
            plaintext = try AES.GCM.open(box, using: dataKey, authenticating: context + [0])
        } catch {
            throw .tampered(name: sealed.name, version: sealed.version, part: "ciphertext")
        }
        guard let text = String(data: plaintext, encoding: .utf8) else {
            throw .tampered(name: sealed.name, version: sealed.version, part: "ciphertext")
        }
        return Secret(text)
    }

    static func associatedData(name: String, version: Int) -> [UInt8] {
        Array("perimeter-secret/v1/\(name)/\(version)/".utf8)
    }
}

public enum EnvelopeError: Error, Sendable, Hashable, CustomStringConvertible {
    case wrongMasterKey(name: String, sealedWith: String, loaded: String)
    case tampered(name: String, version: Int, part: String)

    public var description: String {
        switch self {
        case .wrongMasterKey(let name, let sealedWith, let loaded):
            "secret '\(name)' was sealed with master key \(sealedWith), but the loaded master key is \(loaded); "
                + "start the gateway with the master key it was stored under (PERIMETER_MASTER_KEY or PERIMETER_MASTER_KEY_FILE)"
        case .tampered(let name, let version, let part):
            "secret '\(name)' version \(version) failed authentication (\(part) altered or truncated); "
                + "restore the database from a backup or put the secret again"
        }
    }
}
