/// JSON written byte by byte, for the few places where Foundation's encoder is too slow (a series of
/// tens of thousands of points) or must not touch bytes it was not asked to change (a forwarded body).
package enum JSONText {
    /// `value` as a JSON string: quotes and backslashes escaped, control characters as `\u00XX`.
    package static func append(string value: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            case ..<0x20:
                out.append(contentsOf: "\\u00".utf8)
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    package static func string(_ value: String) -> [UInt8] {
        var out: [UInt8] = []
        append(string: value, to: &out)
        return out
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
}
