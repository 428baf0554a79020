/// Finds secrets in bytes: pure, no I/O, the same for a file, a blob or a string in a test.
///
/// It finds every rule's literal anchors first, all in one pass (``AnchorIndex``), and looks at the
/// bytes around an anchor only where one occurs, with hand-written byte scanning rather than
/// regular expressions: a file without any anchor costs that one pass and nothing else. Candidates then pass
/// the rule's length, entropy floor, placeholder filter and validation. Overlapping matches keep the
/// rule listed first, and a line with `perimeter:allow` on it reports nothing.
public struct Detector: Sendable {
    public let rules: [Rule]
    private let anchors: [(rule: Int, literal: [UInt8])]
    private let index: AnchorIndex
    private let envFileRule: Int?
    private let envAssignmentRule: Int?
    /// Each rule's entropy floor (``Rule/entropyFloor``), worked out once.
    let floors: [Double]

    public static let allowMarker = Array("perimeter:allow".utf8)

    public init(rules: [Rule] = RuleCatalog.all) {
        self.rules = rules
        floors = rules.map(\.entropyFloor)
        var anchors: [(Int, [UInt8])] = []
        var literals: [AnchorIndex.Literal] = []
        for (index, rule) in rules.enumerated() {
            for anchor in rule.anchors {
                // A lowercase keyword matches in any capitalisation; one with capitals (`AKIA`,
                // `SecretAccessKey`) only as written, so `akia` in "Slovakia" is no anchor.
                let anyCase = !rule.keywords.isEmpty && anchor == anchor.lowercased()
                anchors.append((index, Array(anchor.utf8)))
                literals.append(AnchorIndex.Literal(Array(anchor.utf8), anyCase: anyCase))
            }
        }
        self.anchors = anchors
        index = AnchorIndex(literals)
        envFileRule = rules.firstIndex { if case .envFile = $0.shape { true } else { false } }
        envAssignmentRule = rules.firstIndex { if case .envAssignment = $0.shape { true } else { false } }
    }

    /// The secrets in `content`. `path` decides the dotenv rules; `isCommitted` says whether the
    /// file is tracked or comes from history (only then is a `.env` file a finding by itself).
    public func matches(in content: [UInt8], path: String, isCommitted: Bool = false) -> [Match] {
        var matches = content.withUnsafeBufferPointer { bytes in
            var found = plainMatches(in: bytes, path: path)
            // One level deep: what base64, %XX, \uXXXX, quoted-printable or a joined string hid,
            // located at its encoded text.
            EncodedViews.forEach(of: bytes) { view in
                let decoded = view.bytes.withUnsafeBufferPointer { plainMatches(in: $0, path: path) }
                for var match in decoded {
                    guard let range = view.contentRange(of: match.range) else { continue }
                    match.range = range
                    match.encoding = view.encoding
                    found.append(match)
                }
            }
            return found
        }
        matches.sort { $0.range.lowerBound < $1.range.lowerBound }
        LineLocator.locate(&matches, in: content)
        matches.removeAll { LineLocator.lineContains(Self.allowMarker, around: $0.range, in: content) }
        if let envFileRule, isCommitted, EnvFileName.isEnvFile(path), !EnvFileName.isTemplate(path) {
            matches.insert(Match(ruleID: rules[envFileRule].id, range: 0..<0, line: 0, column: 0, text: path), at: 0)
        }
        return matches
    }

    /// The matches of the rules in `bytes` as they stand, not yet located.
    private func plainMatches(in bytes: UnsafeBufferPointer<UInt8>, path: String) -> [Match] {
        var candidates: [(rule: Int, range: Range<Int>)] = []
        for hit in index.hits(in: bytes) {
            let anchor = anchors[hit.literal]
            candidates += self.candidates(rule: anchor.rule, anchorAt: hit.offset, anchorLength: anchor.literal.count, in: bytes)
        }
        if let envAssignmentRule, EnvFileName.isEnvFile(path) {
            candidates += EnvAssignments.candidates(rule: rules[envAssignmentRule], index: envAssignmentRule, in: bytes)
        }
        return Self.keepFirstOfOverlapping(candidates).map { candidate in
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[candidate.range]), as: UTF8.self)
            return Match(ruleID: rules[candidate.rule].id, range: candidate.range, line: 0, column: 0, text: text)
        }
    }

    public func matches(in text: String, path: String = "input.txt", isCommitted: Bool = false) -> [Match] {
        matches(in: Array(text.utf8), path: path, isCommitted: isCommitted)
    }

    // MARK: candidates around one anchor

    private func candidates(rule index: Int, anchorAt offset: Int, anchorLength: Int, in bytes: UnsafeBufferPointer<UInt8>)
        -> [(rule: Int, range: Range<Int>)]
    {
        let rule = rules[index]
        var ranges: [Range<Int>] = []
        if rule.keywords.isEmpty {
            switch rule.shape {
            case .prefixed(let prefix, let body, let length):
                ranges +=
                    Self.prefixed(at: offset, prefixLength: prefix.utf8.count, body: body, length: length, in: bytes).map { [$0] } ?? []
            case .marker(_, let body, let starts, let length):
                ranges +=
                    Self.marker(at: offset, markerLength: anchorLength, body: body, starts: starts, length: length, in: bytes)
                    .map { [$0] } ?? []
            case .bare, .envAssignment, .envFile:
                break
            }
        } else {
            // The value follows its keyword within the window.
            let window = (offset + anchorLength)..<min(bytes.count, offset + anchorLength + rule.keywordWindow)
            switch rule.shape {
            case .prefixed(let prefix, let body, let length):
                for start in ByteSearch.occurrences(of: Array(prefix.utf8), in: bytes, range: window) {
                    if let range = Self.prefixed(at: start, prefixLength: prefix.utf8.count, body: body, length: length, in: bytes) {
                        ranges.append(range)
                    }
                }
            case .bare(let body, let lengths):
                ranges += Self.runs(of: body, lengths: lengths, startingIn: window, in: bytes)
            case .marker, .envAssignment, .envFile:
                break
            }
        }
        return ranges.filter { accepts(ruleAt: index, bytes[$0]) }.map { (index, $0) }
    }

    /// The checks every candidate passes: entropy floor, placeholder filter, the rule's validation.
    func accepts(ruleAt index: Int, _ token: Slice<UnsafeBufferPointer<UInt8>>) -> Bool {
        let rule = rules[index]
        var body = token[...]
        if case .prefixed(let prefix, _, _) = rule.shape { body = token.dropFirst(prefix.utf8.count) }
        guard Entropy.bitsPerByte(body) >= floors[index] else { return false }
        if !rule.isChecksummed, PlaceholderFilter.isPlaceholder(body) { return false }
        return rule.validate.map { $0(String(decoding: token, as: UTF8.self)) } ?? true
    }

    static func prefixed(
        at start: Int, prefixLength: Int, body: ByteClass, length: ClosedRange<Int>, in bytes: UnsafeBufferPointer<UInt8>
    ) -> Range<Int>? {
        guard isBoundary(before: start, in: bytes) else { return nil }
        var end = start + prefixLength
        let limit = min(bytes.count, end + length.upperBound + 1)
        while end < limit, body.contains(bytes[end]) { end += 1 }
        guard length.contains(end - start - prefixLength), isBoundary(after: end, in: bytes) else { return nil }
        return start..<end
    }

    static func marker(
        at offset: Int, markerLength: Int, body: ByteClass, starts: [String], length: ClosedRange<Int>,
        in bytes: UnsafeBufferPointer<UInt8>
    ) -> Range<Int>? {
        var start = offset
        while start > 0, offset - start <= length.upperBound, body.contains(bytes[start - 1]) { start -= 1 }
        var end = offset + markerLength
        while end < bytes.count, end - start <= length.upperBound, body.contains(bytes[end]) { end += 1 }
        // The key starts at its first prefix that stands at a word boundary (`ask-...` is no key).
        let first = starts.flatMap { ByteSearch.occurrences(of: Array($0.utf8), in: bytes, range: start..<offset) }
            .filter { isBoundary(before: $0, in: bytes) }.min()
        guard let first, length.contains(end - first), isBoundary(after: end, in: bytes) else { return nil }
        return first..<end
    }

    /// Maximal runs of `body` bytes that start inside `window` and measure one of `lengths`.
    static func runs(of body: ByteClass, lengths: Set<Int>, startingIn window: Range<Int>, in bytes: UnsafeBufferPointer<UInt8>)
        -> [Range<Int>]
    {
        var found: [Range<Int>] = []
        var index = window.lowerBound
        // A run that began before the window is part of the keyword's own word: skip past it.
        while index < window.upperBound, index > 0, body.contains(bytes[index - 1]), body.contains(bytes[index]) { index += 1 }
        let longest = lengths.max() ?? 0
        while index < window.upperBound {
            guard body.contains(bytes[index]) else {
                index += 1
                continue
            }
            var end = index
            while end < bytes.count, end - index <= longest, body.contains(bytes[end]) { end += 1 }
            if lengths.contains(end - index), isBoundary(before: index, in: bytes), isBoundary(after: end, in: bytes) {
                found.append(index..<end)
            }
            while end < bytes.count, body.contains(bytes[end]) { end += 1 }
            index = end
        }
        return found
    }

    /// True when the byte before `start` cannot continue a token, or is the letter of an escape
    /// such as `\n` (keys inside JSON strings of notebooks and minified files).
    static func isBoundary(before start: Int, in bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard start > 0 else { return true }
        let previous = bytes[start - 1]
        if !ByteClass.tokenCharacter.contains(previous) { return true }
        return start >= 2 && bytes[start - 2] == 0x5C && ByteClass.letters.contains(previous)
    }

    static func isBoundary(after end: Int, in bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        end >= bytes.count || !ByteClass.tokenCharacter.contains(bytes[end])
    }

    /// Sorted by position; of overlapping candidates, the one whose rule comes first wins.
    static func keepFirstOfOverlapping(_ candidates: [(rule: Int, range: Range<Int>)]) -> [(rule: Int, range: Range<Int>)] {
        let ordered = candidates.sorted { ($0.range.lowerBound, $0.rule) < ($1.range.lowerBound, $1.rule) }
        var kept: [(rule: Int, range: Range<Int>)] = []
        for candidate in ordered {
            if let overlap = kept.lastIndex(where: { $0.range.overlaps(candidate.range) }) {
                if candidate.rule < kept[overlap].rule { kept[overlap] = candidate }
                continue
            }
            kept.append(candidate)
        }
        return kept
    }
}
