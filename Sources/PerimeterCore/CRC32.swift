/// CRC-32 in its reflected form, over a polynomial: IEEE 802.3 (the one zlib, Bedrock's event
/// stream and GitHub's token checksums use) or Castagnoli (CRC32C, Google Cloud's payload checksums).
package struct CRC32: Sendable {
    /// IEEE 802.3: `CRC32.ieee.checksum(Array("123456789".utf8)) == 0xCBF43926`.
    package static let ieee = CRC32(reflectedPolynomial: 0xEDB8_8320)
    /// Castagnoli (CRC32C): `CRC32.castagnoli.checksum(Array("123456789".utf8)) == 0xE3069283`.
    package static let castagnoli = CRC32(reflectedPolynomial: 0x82F6_3B78)

    private let table: [UInt32]

    package init(reflectedPolynomial polynomial: UInt32) {
        table = (0..<256).map { n in
            var c = UInt32(n)
            for _ in 0..<8 { c = (c & 1) != 0 ? polynomial ^ (c >> 1) : c >> 1 }
            return c
        }
    }

    package func checksum<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
        }
        return crc ^ 0xFFFF_FFFF
    }

    /// CRC-32 (IEEE).
    package static func checksum<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        ieee.checksum(bytes)
    }
}
