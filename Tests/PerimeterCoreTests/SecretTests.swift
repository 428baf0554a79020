import Foundation
import Testing

@testable import PerimeterCore

@Suite struct SecretTests {
    @Test func neverPrintsItsValue() {
        let secret = Secret("sk-live-very-secret-value")
        #expect("\(secret)" == "<redacted>")
        #expect(String(describing: secret) == "<redacted>")
        #expect(String(reflecting: secret) == "Secret(<redacted>)")
        var dumped = ""
        dump(secret, to: &dumped)
        #expect(!dumped.contains("very-secret"))
        #expect(!"\([secret])".contains("very-secret"))
        #expect(secret.revealed == "sk-live-very-secret-value")
    }

    @Test func digestRoundTripsThroughHexAndComparesByValue() throws {
        let digest = KeyDigest(of: "prm_dev_example")
        #expect(digest.hex.count == 64)
        #expect(KeyDigest(hex: digest.hex) == digest)
        #expect(KeyDigest(hex: digest.hex.uppercased()) == digest)
        #expect(KeyDigest(of: "prm_dev_examplf") != digest)
        // The known SHA-256 of "abc".
        #expect(KeyDigest(of: "abc").hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(KeyDigest(hex: "zz") == nil)
        #expect(!digest.description.contains(digest.hex))
    }
}

@Suite struct TimestampTests {
    @Test func formatsToTheMillisecondAndParsesBack() throws {
        let date = Date(timeIntervalSince1970: 1_764_000_000.123)
        #expect(Timestamp.format(date) == "2025-11-24T16:00:00.123Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 0.9996)) == "1970-01-01T00:00:01.000Z")
        let parsed = try #require(Timestamp.parse("2025-11-24T16:00:00.123Z"))
        #expect(Timestamp.format(parsed) == "2025-11-24T16:00:00.123Z")
        #expect(Timestamp.parse("2025-11-24T17:00:00+01:00") == Date(timeIntervalSince1970: 1_764_000_000))
        #expect(Timestamp.parse("yesterday") == nil)
    }
}
