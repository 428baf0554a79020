import Foundation
import PerimeterCore
import Testing

/// RFC 3339 exactly: what every validator accepts is read, nothing else is.
@Suite struct RFC3339Tests {
    @Test func readsEveryRFC3339Form() throws {
        let base = try #require(Timestamp.parse("2026-12-31T23:59:59Z"))
        #expect(base.timeIntervalSince1970 == 1_798_761_599)
        #expect(Timestamp.parse("2026-12-31t23:59:59z") == base)
        #expect(Timestamp.parse("2027-01-01T01:59:59+02:00") == base)
        #expect(Timestamp.parse("2026-12-31T20:29:59-03:30") == base)
        #expect(Timestamp.parse("2026-12-31T23:59:60Z") == base.addingTimeInterval(1))
        #expect(Timestamp.parse("2026-12-31T23:59:59.250Z") == base.addingTimeInterval(0.25))
        #expect(Timestamp.parse("2024-02-29T00:00:00Z") != nil)
        #expect(Timestamp.parse("0001-01-01T00:00:00Z")?.timeIntervalSince1970 == -62_135_596_800)
        #expect(Timestamp.parse("1969-12-31T23:59:59Z")?.timeIntervalSince1970 == -1)
    }

    @Test func refusesWhatIsNotRFC3339() {
        for text in [
            "", "2026-12-31", "2026-12-31T23:59:59", "2026-12-31 23:59:59Z", "2026-13-01T00:00:00Z", "2026-04-31T00:00:00Z",
            "2025-02-29T00:00:00Z", "2026-12-31T24:00:00Z", "2026-12-31T23:60:00Z", "2026-12-31T23:59:61Z", "2026-12-31T23:59:59.Z",
            "2026-12-31T23:59:59+24:00", "2026-12-31T23:59:59+0200", "26-12-31T23:59:59Z", "2026-12-31T23:59:59Z ",
            "2026-12-31T23:59:59Z\n", "+2026-12-31T23:59:59Z", "２０２６-12-31T23:59:59Z",
        ] {
            #expect(Timestamp.parse(text) == nil, "\(text)")
        }
    }

    /// The arithmetic formatter writes what Foundation's ISO 8601 style writes, leap days and the ends
    /// of years, months and days included, before 1970 too (and before 1600, where it hands over to Foundation).
    @Test func formatWritesWhatFoundationWrites() {
        var generator = SystemRandomNumberGenerator()
        let fixed: [Int64] = [
            0, -1, 951_782_400_000, 951_868_799_999, 4_107_542_399_999, 1_764_000_000_123, -62_135_596_800_000, 253_402_300_799_999,
            -2_208_988_800_001, 1_709_164_800_000,
        ]
        let random = (0..<2000).map { _ in Int64.random(in: -62_135_596_800_000...253_402_300_799_999, using: &generator) }
        for milliseconds in fixed + random {
            let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
            let seconds = Int64((Double(milliseconds) / 1000).rounded(.down))
            let whole = Date(timeIntervalSince1970: Double(seconds)).formatted(Date.ISO8601FormatStyle())
            let fraction = String(milliseconds - seconds * 1000)
            let expected = whole.dropLast() + "." + String(repeating: "0", count: 3 - fraction.count) + fraction + "Z"
            #expect(Timestamp.format(date) == expected, "\(milliseconds)")
        }
    }

    @Test func formatRoundTrips() throws {
        let date = Date(timeIntervalSince1970: 1_798_761_599.123)
        #expect(Timestamp.parse(Timestamp.format(date)) == date)
    }
}
