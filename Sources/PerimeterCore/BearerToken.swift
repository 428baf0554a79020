/// The token of an `Authorization: Bearer <token>` header, for the proxy and the admin API alike:
/// the scheme in any case, one space after it, blanks around the token ignored; `nil` for another
/// scheme or an empty token. Bytes only, no Foundation: this runs on every request.
public enum BearerToken {
    public static func parse(_ authorization: String) -> String? {
        let bytes = Array(authorization.utf8)
        guard bytes.count > 7, bytes[6] == UInt8(ascii: " "), bytes[..<6].elementsEqual("bearer".utf8, by: { $0 | 0x20 == $1 })
        else { return nil }
        var start = 7
        var end = bytes.count
        while start < end, isBlank(bytes[start]) { start += 1 }
        while end > start, isBlank(bytes[end - 1]) { end -= 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }

    private static func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
}
