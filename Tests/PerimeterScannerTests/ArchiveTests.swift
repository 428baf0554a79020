import Foundation
import Testing

@testable import PerimeterScanner

/// Zip-based files are opened and their entries scanned; a hostile archive (truncated, lying about
/// its sizes, nested past the limit) is read as far as it is honest and never crashes the scan.
@Suite struct ArchiveTests {
    /// A zip of stored (uncompressed) entries, as `zip -0` writes it.
    static func storedZip(_ files: [(String, [UInt8])], declaring sizes: [Int]? = nil) -> [UInt8] {
        func u16(_ value: Int) -> [UInt8] { [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF)] }
        func u32(_ value: Int) -> [UInt8] { u16(value & 0xFFFF) + u16(value >> 16 & 0xFFFF) }
        var body: [UInt8] = []
        var directory: [UInt8] = []
        for (index, (name, content)) in files.enumerated() {
            let offset = body.count
            let declared = sizes?[index] ?? content.count
            let name = Array(name.utf8)
            body +=
                u32(0x0403_4B50) + u16(20) + u16(0) + u16(0) + u32(0) + u32(0) + u32(content.count) + u32(declared)
                + u16(name.count) + u16(0) + name + content
            directory +=
                u32(0x0201_4B50) + u16(20) + u16(20) + u16(0) + u16(0) + u32(0) + u32(0) + u32(content.count)
                + u32(declared) + u16(name.count) + u16(0) + u16(0) + u16(0) + u16(0) + u32(0) + u32(offset) + name
        }
        return body + directory + u32(0x0605_4B50) + u16(0) + u16(0) + u16(files.count) + u16(files.count)
            + u32(directory.count) + u32(body.count) + u16(0)
    }

    func scan(_ path: String, _ content: [UInt8], limits: ArchiveLimits = ArchiveLimits()) -> (findings: [Finding], skipped: Int) {
        var scanner = Scanner(workers: 1)
        scanner.archives = limits
        let findings = scanner.findings(in: ScanItem(path: path, content: content, origin: .workingTree, isCommitted: true))
        return (findings, scanner.counters.archiveEntriesSkipped)
    }

    @Test func entriesOfAZipAndOfAZipInsideItAreScanned() {
        var keys = FakeKeys(seed: 61)
        let (outer, inner) = (keys.groq(), keys.anthropic())
        let nested = Self.storedZip([("lib/settings.py", Array("KEY = '\(inner)'\n".utf8))])
        let jar = Self.storedZip([
            ("META-INF/MANIFEST.MF", Array("Manifest-Version: 1.0\n".utf8)), ("config/app.properties", Array("groq.key=\(outer)\n".utf8)),
            ("vendor/inner.zip", nested), ("images/", []),
        ])
        let (findings, skipped) = scan("build/app.jar", jar)
        #expect(findings.map(\.path) == ["build/app.jar!config/app.properties", "build/app.jar!vendor/inner.zip!lib/settings.py"])
        #expect(findings.map(\.secret.revealed) == [outer, inner] && findings.map(\.line) == [1, 1])
        #expect(skipped == 0)
    }

    @Test func archivesDeeperThanTheLimitAndEntriesOverItAreSkippedAndCounted() {
        var keys = FakeKeys(seed: 62)
        let key = keys.groq()
        let deepest = Self.storedZip([("k.txt", Array("gsk \(key)".utf8))])
        let three = Self.storedZip([("two.zip", Self.storedZip([("one.zip", deepest)]))])
        #expect(scan("a.zip", three).findings.isEmpty)
        var limits = ArchiveLimits()
        limits.entryBytes = 16
        let large = scan(
            "b.zip", Self.storedZip([("big.txt", Array(repeating: 0x41, count: 64)), ("k.txt", Array("x=\(key)".utf8))]), limits: limits)
        #expect(large.findings.isEmpty && large.skipped == 2)
    }

    /// An entry that declares fewer bytes than it holds is still read whole.
    @Test func aLyingSizeDoesNotHideAKey() {
        var keys = FakeKeys(seed: 63)
        let key = keys.groq()
        let zip = Self.storedZip([("k.txt", Array("export GROQ_API_KEY=\(key)\n".utf8))], declaring: [3])
        #expect(scan("c.zip", zip).findings.map(\.secret.revealed) == [key])
    }

    /// Every truncation and a thousand random corruptions of an archive: no crash, at most what is there.
    @Test func damagedArchivesNeverCrashTheScan() {
        var keys = FakeKeys(seed: 64)
        let zip = Self.storedZip([("a.txt", Array("k=\(keys.groq())\n".utf8)), ("b.txt", Array("hello\n".utf8))])
        for length in 0..<zip.count { _ = scan("t.zip", Array(zip.prefix(length))) }
        var random = SeededBytes(state: 0x2545_F491)
        for _ in 0..<1000 {
            var damaged = zip
            for _ in 0..<4 { damaged[Int.random(in: 4..<damaged.count, using: &random)] = UInt8.random(in: 0...255, using: &random) }
            #expect(scan("d.zip", damaged).findings.count <= 1)
        }
    }
}

/// What a hostile archive tries: many names for one entry, a stored entry that lies about its size,
/// a text file dressed as a zip, and nested archives that each hope for a fresh budget.
extension ArchiveTests {
    @Test func manyRecordsPointingAtOneEntryReadItOnce() {
        var keys = FakeKeys(seed: 65)
        let key = keys.groq()
        var zip = Self.storedZip([("k.txt", Array("x=\(key)\n".utf8))])
        // Copy the one central-directory record 999 more times (under new names), all at offset 0.
        let eocd = zip.count - 22
        let directoryStart = Int(zip[eocd + 16]) | Int(zip[eocd + 17]) << 8
        let record = Array(zip[directoryStart..<eocd])
        var directory = record
        for _ in 0..<999 { directory += record }
        zip =
            Array(zip[..<directoryStart]) + directory + Array(zip[eocd..<(eocd + 8)])
            + [UInt8(1000 & 0xFF), UInt8(1000 >> 8), UInt8(1000 & 0xFF), UInt8(1000 >> 8)]
            + [UInt8(directory.count & 0xFF), UInt8(directory.count >> 8 & 0xFF), UInt8(directory.count >> 16 & 0xFF), 0]
            + Array(zip[(eocd + 16)..<(eocd + 22)])
        let (findings, skipped) = scan("many.zip", zip)
        #expect(findings.count == 1 && skipped == 999)
    }

    @Test func aStoredEntryIsHeldToTheLimitWhateverItDeclares() {
        var limits = ArchiveLimits()
        limits.entryBytes = 64
        let zip = Self.storedZip([("big.txt", Array(repeating: 0x41, count: 1000))], declaring: [0])
        #expect(scan("s.zip", zip, limits: limits).skipped == 1)
    }

    @Test func aFileThatOnlyStartsLikeAZipIsReadAsText() {
        var keys = FakeKeys(seed: 66)
        let key = keys.groq()
        let bytes =
            Array("PK\u{3}\u{4} export GROQ_API_KEY=\(key)\n".utf8) + [0x50, 0x4B, 0x05, 0x06] + [UInt8](repeating: 0x20, count: 18)
        #expect(scan("notes.txt", bytes).findings.map(\.secret.revealed) == [key])
    }

    /// Archives inside an archive share its budget: the second inner archive finds it spent.
    @Test func nestedArchivesShareOneBudget() {
        var keys = FakeKeys(seed: 67)
        let (first, second) = (keys.groq(), keys.groq())
        let inner1 = Self.storedZip([("a.txt", Array("k=\(first)\n".utf8))])
        let inner2 = Self.storedZip([("b.txt", Array("k=\(second)\n".utf8))])
        var limits = ArchiveLimits()
        limits.totalBytes = inner1.count + 70
        let (findings, skipped) = scan("outer.zip", Self.storedZip([("one.zip", inner1), ("two.zip", inner2)]), limits: limits)
        #expect(findings.map(\.secret.revealed) == [first] && skipped == 1)
    }
}
