import Dispatch
import Foundation
import Synchronization

/// Runs a ``Detector`` over every item of a ``ScanSource`` on all cores, and turns matches into
/// ``Finding``s: one per rule, path and secret, attributed to its earliest appearance.
public struct Scanner: Sendable {
    public var detector: Detector
    public var workers: Int
    public var archives = ArchiveLimits()
    /// What the scan could not read, for its summary.
    public let counters = ScanCounters()
    /// Content with a NUL byte in its first 8000 bytes is binary (git's own test) and not scanned.
    public static let binaryProbeLength = 8000

    public init(detector: Detector = Detector(), workers: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.detector = detector
        self.workers = max(1, workers)
    }

    public func scan(_ source: sending any ScanSource) throws -> [Finding] {
        let shared = Mutex<any ScanSource>(source)
        let results = Mutex<[Finding]>([])
        let failure = Mutex<(any Error)?>(nil)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            var local: [Finding] = []
            while true {
                let item: ScanItem?
                do {
                    item = try shared.withLock { source in try source.next() }
                } catch {
                    failure.withLock { $0 = $0 ?? error }
                    break
                }
                guard let item else { break }
                local += findings(in: item)
            }
            results.withLock { $0 += local }
        }
        if let error = failure.withLock({ $0 }) { throw error }
        return Self.deduplicated(results.withLock { $0 })
    }

    /// The findings of one item; a zip-based file's are its entries' (`app.jar!config/app.properties`).
    public func findings(in item: ScanItem) -> [Finding] {
        var budget = archives.totalBytes
        return findings(in: item, depth: 0, budget: &budget)
    }

    /// `budget`: what is left of the bytes the top-level item's archives may inflate, nested ones included.
    private func findings(in item: ScanItem, depth: Int, budget: inout Int) -> [Finding] {
        guard let content = item.content else { return [] }
        // A file that only starts like a zip, with no entry to read, is read as what it is.
        if depth < archives.depth, let archive = ZipArchive(content), !archive.entries.isEmpty {
            return findings(in: archive, of: item, depth: depth, budget: &budget)
        }
        guard !Self.isBinary(content) else { return [] }
        return detector.matches(in: content, path: item.path, isCommitted: item.isCommitted).compactMap { match in
            guard let rule = detector.rules.first(where: { $0.id == match.ruleID }) else { return nil }
            return Finding(match: match, rule: rule, path: item.path, origin: item.origin)
        }
    }

    /// Each entry of an archive as an item of its own, within the limits; what is left out is counted.
    /// An entry costs the budget what it took to inflate, read or not, and entries sharing their data
    /// with an earlier one (a central directory pointing many names at one bomb) are not read again.
    private func findings(in archive: ZipArchive, of item: ScanItem, depth: Int, budget: inout Int) -> [Finding] {
        var found: [Finding] = []
        var skipped = archive.unreadableRecords
        var seen: Set<Int> = []
        for (number, entry) in archive.entries.enumerated() where !entry.isDirectory {
            guard number < archives.entries, budget > 0, seen.insert(entry.localHeaderOffset).inserted else {
                skipped += 1
                continue
            }
            let (result, cost) = archive.content(of: entry, limit: min(archives.entryBytes, budget))
            budget -= cost
            switch result {
            case .success(let bytes):
                let inner = ScanItem(
                    path: item.path + "!" + ZipArchive.printable(entry.name), content: bytes, origin: item.origin,
                    isCommitted: item.isCommitted)
                found += findings(in: inner, depth: depth + 1, budget: &budget)
            case .failure:
                skipped += 1
            }
        }
        if skipped > 0 { counters.skippedArchiveEntries.add(skipped, ordering: .relaxed) }
        return found
    }

    static func isBinary(_ content: [UInt8]) -> Bool {
        content.prefix(binaryProbeLength).contains(0)
    }

    /// One finding per rule, path and secret: the earliest commit that introduced it, else the index,
    /// else the working tree. Sorted by path, line and rule.
    public static func deduplicated(_ findings: [Finding]) -> [Finding] {
        func rank(_ finding: Finding) -> Int {
            switch finding.origin {
            case .history(let commit): commit.order
            case .index: Int.max - 1
            case .workingTree: Int.max
            }
        }
        var best: [String: Finding] = [:]
        for finding in findings {
            let key = finding.ruleID + "\u{0}" + finding.path + "\u{0}" + finding.sha256
            if let existing = best[key], rank(existing) <= rank(finding) { continue }
            best[key] = finding
        }
        return best.values.sorted {
            ($0.path, $0.line, $0.ruleID, rank($0)) < ($1.path, $1.line, $1.ruleID, rank($1))
        }
    }
}

/// How far the scanner opens zip-based files: entries of at most `entryBytes` inflated, `totalBytes`
/// per archive, the first `entries` entries, and archives inside archives `depth` levels deep.
public struct ArchiveLimits: Sendable {
    public var entryBytes = 10 << 20
    public var totalBytes = 100 << 20
    public var entries = 10_000
    public var depth = 2

    public init() {}
}

/// Counts a scan keeps beside its findings.
public final class ScanCounters: Sendable {
    /// Archive entries not read: over a limit, encrypted, corrupt, or compressed other than by deflate.
    let skippedArchiveEntries = Atomic<Int>(0)

    public var archiveEntriesSkipped: Int { skippedArchiveEntries.load(ordering: .relaxed) }
}
