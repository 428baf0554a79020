/// What one kind of secret looks like: plain data, read by the ``Detector``.
///
/// Every rule has a literal anchor the detector looks for before anything else: its fixed prefix or
/// marker, or, for formats without one, a keyword (the provider's name) that must stand shortly
/// before the value.
public struct Rule: Sendable {
    /// How the secret's text is delimited.
    public enum Shape: Sendable {
        /// `prefix` followed by `length` bytes of `body` (the length counts the body only).
        case prefixed(prefix: String, body: ByteClass, length: ClosedRange<Int>)
        /// A `marker` inside the token: the token is the whole run of `body` bytes around it, which
        /// must start with one of `starts` and measure `length` bytes in all.
        case marker(marker: String, body: ByteClass, starts: [String], length: ClosedRange<Int>)
        /// No fixed text at all: a run of exactly one of `lengths` bytes of `body`. Needs keywords.
        case bare(body: ByteClass, lengths: Set<Int>)
        /// A `NAME=value` line of a dotenv file whose name contains one of `names` (`key`, `token`,
        /// `secret`) and whose value is at least `minimumLength` bytes long.
        case envAssignment(names: [String], minimumLength: Int)
        /// The path itself: a dotenv file that is tracked or was committed, whatever it holds.
        case envFile
    }

    /// Stable identifier, used in reports and baselines: `anthropic-api-key`.
    public var id: String
    /// Who issued the key: `Anthropic`.
    public var provider: String
    /// One line for people: `Anthropic API key`.
    public var title: String
    public var shape: Shape
    /// Words of which one must appear at most `keywordWindow` bytes before the value; empty for
    /// formats with a fixed prefix or marker. Lowercase words match in any capitalisation, others only
    /// as written.
    public var keywords: [String] = []
    public var keywordWindow = 120
    /// Bits per byte the body must reach (see ``Entropy``); `nil`: derived from the shape, so that no
    /// more than one uniformly random key in a million of the shape's alphabet and shortest length falls
    /// under it (``Entropy/floor(alphabetSize:length:)``).
    public var minimumEntropy: Double?
    /// Keys whose checksum proves them real skip the placeholder filter: they cannot be a template.
    public var isChecksummed = false
    /// A last check on the whole token (structure, checksum); `nil` accepts every token of the shape.
    public var validate: (@Sendable (String) -> Bool)?

    /// The literals the detector searches for first.
    var anchors: [String] {
        if !keywords.isEmpty { return keywords }
        switch shape {
        case .prefixed(let prefix, _, _): return [prefix]
        case .marker(let marker, _, _, _): return [marker]
        case .bare, .envAssignment, .envFile: return []
        }
    }

    /// The entropy floor candidates are held to: the rule's own, or the one its shape implies.
    var entropyFloor: Double {
        if let minimumEntropy { return minimumEntropy }
        switch shape {
        case .prefixed(_, let body, let length), .marker(_, let body, _, let length):
            return Entropy.floor(alphabetSize: body.alphabet.count, length: length.lowerBound)
        case .bare(let body, let lengths):
            return Entropy.floor(alphabetSize: body.alphabet.count, length: lengths.min() ?? 0)
        case .envAssignment, .envFile:
            return 3.0
        }
    }
}
