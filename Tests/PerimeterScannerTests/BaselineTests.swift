import Foundation
import Testing

@testable import PerimeterScanner

@Suite struct BaselineTests {
    @Test func suppressionSurvivesALineShiftButNotANewSecret() throws {
        var keys = FakeKeys(seed: 7)
        let accepted = keys.gemini()
        let scanner = Scanner()
        func scan(_ text: String) -> [Finding] {
            scanner.findings(in: ScanItem(path: "app/config.py", content: Array(text.utf8), origin: .workingTree, isCommitted: true))
        }
        let before = scan("KEY = '\(accepted)'\n")
        let baseline = try Baseline.load(from: try Baseline(findings: before).encoded())
        #expect(baseline.findings == [Baseline.Entry(rule: "google-ai-api-key", path: "app/config.py", sha256: before[0].sha256)])

        let fresh = keys.gemini()
        let after = scan("import os\n\n\n# moved down\nKEY = '\(accepted)'\nOTHER = '\(fresh)'\n")
        #expect(after.map(\.line) == [5, 6])
        let (remaining, suppressed) = baseline.filter(after)
        #expect(remaining.map(\.redacted) == [Finding.redact(fresh, isPath: false)])
        #expect(suppressed.map(\.line) == [5])
    }

    @Test func theFileHoldsNoSecret() throws {
        var keys = FakeKeys(seed: 8)
        let key = keys.anthropic()
        let findings = Scanner().findings(in: ScanItem(path: "a", content: Array(key.utf8), origin: .workingTree, isCommitted: true))
        let text = String(decoding: try Baseline(findings: findings).encoded(), as: UTF8.self)
        #expect(!text.contains(key) && !text.contains(String(key.dropFirst(13).prefix(20))))
        #expect(throws: BaselineError.self) { try Baseline.load(from: Data("[]".utf8)) }
    }
}
