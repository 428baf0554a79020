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

    @Test func formatRoundTrips() throws {
        let date = Date(timeIntervalSince1970: 1_798_761_599.123)
        #expect(Timestamp.parse(Timestamp.format(date)) == date)
    }
}
