import Crypto
import Foundation
import Testing

@testable import PerimeterScanner

@Suite struct ReportTests {
    func finding(origin: ScanItem.Origin) -> Finding {
        var keys = FakeKeys(seed: 21)
        let key = keys.groq()
        let item = ScanItem(path: "src/app.py", content: Array("k = '\(key)'\n".utf8), origin: origin, isCommitted: true)
        return Scanner().findings(in: item)[0]
    }

    @Test func jsonHasEveryKeyAlwaysAndNeverTheSecret() throws {
        let commit = Commit(
            sha: String(repeating: "a", count: 40), author: "Ada", email: "ada@example.org", date: "2026-11-29T09:00:00Z", order: 0)
        var managed = finding(origin: .history(commit))
        managed.managedKeyID = "key_x"
        let data = try JSONReport.render([finding(origin: .workingTree), managed], summary: ["baselined": 2], gateway: nil)
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(document["gateway"] is NSNull)
        #expect((document["summary"] as? [String: Int]) == ["baselined": 2, "findings": 2])
        let rows = try #require(document["findings"] as? [[String: Any]])
        let keys: Set = [
            "rule", "provider", "title", "path", "line", "column", "source", "commit", "author", "date", "redacted", "sha256",
            "managed_key_id", "credential_reference", "encoding", "classification",
        ]
        #expect(rows.allSatisfy { Set($0.keys) == keys })
        #expect(rows[0]["commit"] is NSNull && rows[0]["author"] is NSNull && rows[0]["managed_key_id"] is NSNull)
        #expect(rows[0]["source"] as? String == "working-tree")
        #expect(rows[1]["commit"] as? String == commit.sha && rows[1]["author"] as? String == "Ada <ada@example.org>")
        #expect(rows[1]["managed_key_id"] as? String == "key_x")
        #expect(rows.map { $0["classification"] as? String } == ["provider_key", "managed"])
        let secret = managed.secret.revealed
        #expect(rows[1]["sha256"] as? String == KeyDigestHex.of(secret))
        #expect(!String(decoding: data, as: UTF8.self).contains(secret))
        #expect(
            TextReport.rows([managed])[0] == [
                "src/app.py:1", "groq-api-key", managed.redacted, "aaaaaaa", "Ada", "2026-11-29", "key_x",
                "managed",
            ])
    }
}

/// The hex SHA-256 the reports promise, computed here with swift-crypto rather than through `KeyDigest`.
enum KeyDigestHex {
    static func of(_ text: String) -> String {
        SHA256.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
