import Foundation

/// An IPv4 or IPv6 network in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`); a bare address is a /32
/// or /128. Addresses are compared as 128-bit values, IPv4 mapped into `::ffff:0:0/96`, so an IPv4
/// client seen on an IPv6 socket matches an IPv4 rule.
public struct CIDR: Sendable, Hashable, Codable, CustomStringConvertible {
    public let description: String
    private let network: IPAddress
    private let prefixLength: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(String(parts[0])) else { return nil }
        let maximum = address.isIPv4 ? 32 : 128
        var length = maximum
        if parts.count == 2 {
            guard let value = Int(parts[1]), (0...maximum).contains(value), parts[1].allSatisfy(\.isNumber) else { return nil }
            length = value
        }
        prefixLength = address.isIPv4 ? length + 96 : length
        network = address.masked(to: prefixLength)
        description = text
    }

    public func contains(_ address: IPAddress) -> Bool {
        address.masked(to: prefixLength) == network
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = CIDR(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a CIDR: \(text)"))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// An IP address as 128 bits; IPv4 is held IPv4-mapped (`::ffff:a.b.c.d`).
public struct IPAddress: Sendable, Hashable {
    let high: UInt64
    let low: UInt64

    public var isIPv4: Bool { high == 0 && low >> 32 == 0xFFFF }

    public init?(_ text: String) {
        var text = Substring(text)
        if let zone = text.firstIndex(of: "%") { text = text[..<zone] }
        if text.hasPrefix("["), text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        if let v4 = Self.parseIPv4(text) {
            (high, low) = (0, 0xFFFF_0000_0000 | UInt64(v4))
        } else if let v6 = Self.parseIPv6(text) {
            (high, low) = v6
        } else {
            return nil
        }
    }

    func masked(to prefix: Int) -> IPAddress {
        func mask(_ bits: Int) -> UInt64 { bits <= 0 ? 0 : bits >= 64 ? .max : ~(UInt64.max >> UInt64(bits)) }
        return IPAddress(high: high & mask(prefix), low: low & mask(prefix - 64))
    }

    private init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    private static func parseIPv4(_ text: Substring) -> UInt32? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var value: UInt32 = 0
        for octet in octets {
            guard !octet.isEmpty, octet.count <= 3, octet.allSatisfy(\.isNumber), let byte = UInt8(octet) else { return nil }
            value = value << 8 | UInt32(byte)
        }
        return value
    }

    private static func parseIPv6(_ text: Substring) -> (UInt64, UInt64)? {
        var groups: [UInt16] = []
        var text = text
        var tail: [UInt16] = []
        // An embedded IPv4 tail (::ffff:1.2.3.4) counts as two groups.
        if let lastColon = text.lastIndex(of: ":"), text[text.index(after: lastColon)...].contains("."),
            let v4 = parseIPv4(text[text.index(after: lastColon)...])
        {
            tail = [UInt16(v4 >> 16), UInt16(v4 & 0xFFFF)]
            text = text[...lastColon]
            if text.hasSuffix(":"), !text.hasSuffix("::") { text = text.dropLast() }
        }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func parse(_ part: String) -> [UInt16]? {
            guard !part.isEmpty else { return [] }
            var out: [UInt16] = []
            for group in part.split(separator: ":", omittingEmptySubsequences: false) {
                guard (1...4).contains(group.count), let value = UInt16(group, radix: 16) else { return nil }
                out.append(value)
            }
            return out
        }
        guard let head = parse(halves[0]) else { return nil }
        if halves.count == 2 {
            guard let rest = parse(halves[1]) else { return nil }
            let missing = 8 - head.count - rest.count - tail.count
            guard missing >= 1 else { return nil }
            groups = head + Array(repeating: 0, count: missing) + rest + tail
        } else {
            groups = head + tail
        }
        guard groups.count == 8 else { return nil }
        let high = groups[0..<4].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        let low = groups[4..<8].reduce(UInt64(0)) { $0 << 16 | UInt64($1) }
        return (high, low)
    }
}
