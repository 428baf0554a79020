import Testing

@testable import PerimeterScanner

@Suite struct KeywordSpellingTests {
    @Test func lowercaseKeywordsMatchThreeSpellingsOthersOnlyAsWritten() {
        #expect(ByteSearch.spellings(of: "mistral").map { String(decoding: $0, as: UTF8.self) } == ["mistral", "MISTRAL", "Mistral"])
        #expect(ByteSearch.spellings(of: "AKIA").map { String(decoding: $0, as: UTF8.self) } == ["AKIA"])
        #expect(ByteSearch.spellings(of: "SecretAccessKey").count == 1)
    }
}
