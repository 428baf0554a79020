import Testing

@testable import PerimeterScanner

@Suite struct AnchorIndexTests {
    @Test func findsEveryOccurrenceOfEveryLiteralInOnePass() {
        let literals = ["sk-", "sk-ant-", "AKIA", "ab"].map { Array($0.utf8) }
        let index = AnchorIndex(literals)
        let text = Array("xsk-ant-1 AKIAAKIA ab sk".utf8)
        let hits = text.withUnsafeBufferPointer { index.hits(in: $0) }.map { "\($0.literal)@\($0.offset)" }
        #expect(hits == ["0@1", "1@1", "2@10", "2@14", "3@19"])
        #expect(Array("a".utf8).withUnsafeBufferPointer { index.hits(in: $0) }.isEmpty)
    }
}
