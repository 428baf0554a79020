import Foundation
import PerimeterAdminModels
import PerimeterCore
import PerimeterStorage
import Testing

/// `GET /spend/series` writes its JSON by hand for speed: it must say what `JSONEncoder` says.
@Suite struct SpendSeriesJSONTests {
    static func object(_ bytes: some Sequence<UInt8>) throws -> NSDictionary {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? NSDictionary)
    }

    @Test(arguments: [nil, "key_\"quoted\\"])
    func theHandWrittenJSONSaysWhatTheEncoderSays(keyID: String?) throws {
        let groups = ["", "prod", "a\"b\\c", "line\nbreak\u{1}\u{1f}", "é 模型 🚀", "gpt-4o/mini"]
        let costs: [Int64] = [0, 1, 999, 1_000_000_000, 12_345_678_901, 10_000, 123_456_789_012_345, 7]
        let points = (0..<48).map { i in
            SpendPoint(
                start: Date(timeIntervalSince1970: 1_764_000_000 + Double(i) * 3600), group: groups[i % groups.count], calls: i * 37,
                denied: i % 5, inputTokens: i * 1000, outputTokens: Int.max - i, cost: Money(nanos: costs[i % costs.count]))
        }
        let query = SpendSeriesQuery(
            bucket: .hour, groupBy: .model, keyID: keyID, since: Date(timeIntervalSince1970: 1_764_000_000.5),
            until: Date(timeIntervalSince1970: 1_764_200_000))
        let report = SpendSeriesReport(query, points: points)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        #expect(try Self.object(report.json()) == (try Self.object(encoder.encode(report))))
        // And a client decodes it back to the same points.
        let decoded = try JSONDecoder().decode(SpendSeriesReport.self, from: Data(report.json()))
        #expect(decoded.data == points)
        #expect(decoded.keyID == keyID)
        #expect(try Self.object(SpendSeriesReport(query, points: []).json())["data"] as? [Any] != nil)
    }
}
