/// A set of bytes, such as the characters a key's body may contain; membership is one table read.
public struct ByteClass: Sendable {
    private let members: [Bool]

    public init(_ ranges: [ClosedRange<UInt8>], extra: String = "") {
        var members = [Bool](repeating: false, count: 256)
        for range in ranges {
            for byte in range { members[Int(byte)] = true }
        }
        for byte in extra.utf8 { members[Int(byte)] = true }
        self.members = members
    }

    @inline(__always)
    public func contains(_ byte: UInt8) -> Bool { members[Int(byte)] }

    /// The member bytes, in order.
    public var alphabet: [UInt8] { (0...255).filter { members[$0] }.map(UInt8.init) }

    static let digits: ClosedRange<UInt8> = 0x30...0x39
    static let upper: ClosedRange<UInt8> = 0x41...0x5A
    static let lower: ClosedRange<UInt8> = 0x61...0x7A

    /// `A-Z a-z 0-9`
    public static let alphanumeric = ByteClass([digits, upper, lower])
    /// `A-Z a-z`
    public static let letters = ByteClass([upper, lower])
    /// `0-9 a-f`
    public static let lowerHex = ByteClass([digits, 0x61...0x66])
    /// `A-Z a-z 0-9 _ -`: URL-safe base64 and most modern key bodies.
    public static let urlSafe = ByteClass([digits, upper, lower], extra: "_-")
    /// `A-Z a-z 0-9 _`
    public static let word = ByteClass([digits, upper, lower], extra: "_")
    /// `A-Z a-z 0-9 + / =`: standard base64.
    public static let base64 = ByteClass([digits, upper, lower], extra: "+/=")
    /// `A-Z a-z 0-9 + /`: base64 without padding, so `NAME=value` does not join the `=` to the value.
    public static let base64Unpadded = ByteClass([digits, upper, lower], extra: "+/")
    /// `A-Z 2-7`: the base32 alphabet of AWS access key ids (digits 0-9 accepted, as older ids use them).
    public static let upperAlphanumeric = ByteClass([digits, upper])
    /// What may stand next to a token without making it part of a longer word.
    static let tokenCharacter = ByteClass([digits, upper, lower], extra: "_-+/")
}
