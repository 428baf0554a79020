import Testing

@testable import PerimeterScanner

/// Keyword rules match their lowercase keywords in any capitalisation; keywords with capitals only as written.
@Suite struct KeywordSpellingTests {
    @Test func lowercaseKeywordsMatchInAnyCapitalisation() {
        var keys = FakeKeys(seed: 17)
        let mistral = keys.text(32)
        let detector = Detector()
        for name in ["MISTRAL_API_KEY", "mistral_api_key", "Mistral_Key", "MiStRaL_API_KEY", "mIsTrAl"] {
            let matches = detector.matches(in: "\(name)=\(mistral)\n", path: "settings.py")
            #expect(matches.map(\.ruleID) == ["mistral-api-key"], "\(name)")
        }
        // A keyword with capitals only as written: `akia` in "Slovakia" is no anchor for the secret rule.
        let secret = keys.text(40, from: FakeKeys.base64)
        #expect(detector.matches(in: "Slovakia = \"\(secret)\"\n", path: "notes.txt").isEmpty)
    }

    @Test func anyCaseLiteralsAreFoundAtEveryCapitalisationOfTheirFirstBytes() {
        let index = AnchorIndex([AnchorIndex.Literal(Array("cohere".utf8), anyCase: true), AnchorIndex.Literal(Array("AKIA".utf8))])
        let text = Array("x COHERE cOhErE coherE akia AKIA".utf8)
        let hits = text.withUnsafeBufferPointer { index.hits(in: $0) }
        #expect(hits.map(\.literal) == [0, 0, 0, 1])
        #expect(hits.map(\.offset) == [2, 9, 16, 28])
    }
}
