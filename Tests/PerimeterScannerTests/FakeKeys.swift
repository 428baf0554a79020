import PerimeterCore

/// Key-shaped test values, generated at run time so that no key-like literal sits in the sources
/// (the repository scans itself clean). Deterministic: the same seed gives the same text.
struct FakeKeys {
    private var state: UInt64

    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }

    static let alphanumeric = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
    static let urlSafe = alphanumeric + ["_", "-"]
    static let lowerHex = Array("0123456789abcdef")
    static let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
    static let upperBase32 = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    static let base64 = alphanumeric + ["+", "/"]

    /// `count` characters drawn from `alphabet` (xorshift: fine for tests, not for secrets).
    mutating func text(_ count: Int, from alphabet: [Character] = alphanumeric) -> String {
        String(
            (0..<count).map { _ in
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                return alphabet[Int(state % UInt64(alphabet.count))]
            })
    }

    /// Provider keys, one per rule, joined from pieces.
    mutating func openAIProject() -> String {
        "sk-" + "proj-" + text(40, from: Self.urlSafe) + "T3Blbk" + "FJ" + text(40, from: Self.urlSafe)
    }
    mutating func openAILegacy() -> String { "sk-" + text(20) + "T3Blbk" + "FJ" + text(20) }
    mutating func anthropic() -> String { "sk-" + "ant-api03-" + text(93, from: Self.urlSafe) + "AA" }
    mutating func gemini() -> String { "AI" + "za" + text(35, from: Self.urlSafe) }
    mutating func huggingFace() -> String { "hf" + "_" + text(34, from: Self.letters) }
    mutating func groq() -> String { "gsk" + "_" + text(52) }
    mutating func perimeterKey(env: String = "dev") -> String { TokenFormat.makeVirtualKey(environment: env).revealed }
}
