import Dispatch
import Foundation
import Synchronization

/// Runs a ``Detector`` over every item of a ``ScanSource`` on all cores, and turns matches into
/// ``Finding``s: one per rule, path and secret, attributed to its earliest appearance.
public struct Scanner: Sendable {
    public var detector: Detector
    public var workers: Int
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

    /// The findings of one item.
    public func findings(in item: ScanItem) -> [Finding] {
        let content = item.content.flatMap { Self.isBinary($0) ? nil : $0 } ?? []
        return detector.matches(in: content, path: item.path, isCommitted: item.isCommitted).compactMap { match in
            guard let rule = detector.rules.first(where: { $0.id == match.ruleID }) else { return nil }
            return Finding(match: match, rule: rule, path: item.path, origin: item.origin)
        }
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
