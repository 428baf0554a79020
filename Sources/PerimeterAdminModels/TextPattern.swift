import Foundation

/// A regular expression the admin API's OpenAPI document declares for a field and the server checks
/// the field against, so the two cannot disagree: the document interpolates ``source``, the server
/// calls ``matches(_:)``.
///
/// Sources use only the subset on which ECMA-262 (the document's dialect), Python's `re` (the
/// contract test's) and ICU (the server's) agree: classes, ranges, `\x` escapes, groups, alternation
/// and counted repetition. ``matches(_:)`` needs the pattern to cover the whole value, so a trailing
/// newline never passes where `$` alone would let it.
package struct TextPattern: Sendable {
    package let source: String
    private let expression: Expression?

    package init(_ source: String) {
        self.source = source
        expression = Expression(source)
    }

    /// Whether the whole of `text` matches. A pattern that fails to compile matches nothing (every
    /// declared pattern is compiled by a test).
    package func matches(_ text: String) -> Bool {
        guard let regex = expression?.regex else { return false }
        let range = NSRange(text.startIndex..., in: text)
        guard let match = regex.firstMatch(in: text, options: [.anchored], range: range) else { return false }
        return match.range == range
    }

    package var compiles: Bool { expression != nil }

    /// The source as a JSON string literal, quotes included.
    package var json: String { Self.jsonString(source) }

    package static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// NSRegularExpression is immutable and documented safe to share between threads.
    private final class Expression: @unchecked Sendable {
        let regex: NSRegularExpression
        init?(_ source: String) {
            guard let regex = try? NSRegularExpression(pattern: source) else { return nil }
            self.regex = regex
        }
    }
}

extension TextPattern {
    /// A pattern for the whole numbers `minimum...maximum` written without leading zeros (`0` itself
    /// is `0`): the document can bound a duration's amount with it, and the server checks the same.
    package static func wholeNumber(_ minimum: Int, _ maximum: Int) -> String {
        precondition(0 <= minimum && minimum <= maximum)
        return "(" + ranges(from: minimum, to: maximum).joined(separator: "|") + ")"
    }

    /// Alternatives, each a run of fixed digits then digit classes, that together match exactly the
    /// numbers from `low` to `high`.
    private static func ranges(from low: Int, to high: Int) -> [String] {
        let lowDigits = String(low).count
        let highDigits = String(high).count
        if lowDigits < highDigits {
            // Split at each power of ten: 7...123 becomes 7...9, 10...99, 100...123.
            var parts = ranges(from: low, to: power(lowDigits) - 1)
            for width in (lowDigits + 1)..<highDigits {
                parts += ranges(from: power(width - 1), to: power(width) - 1)
            }
            return parts + ranges(from: power(highDigits - 1), to: high)
        }
        return sameWidth(Array(String(low)), Array(String(high)))
    }

    private static func power(_ exponent: Int) -> Int {
        (0..<exponent).reduce(1) { value, _ in value * 10 }
    }

    /// Numbers of one width from `low` to `high` (digits as characters).
    private static func sameWidth(_ low: [Character], _ high: [Character]) -> [String] {
        if low.isEmpty { return [""] }
        if low.count == 1 { return [low[0] == high[0] ? String(low[0]) : "[\(low[0])-\(high[0])]"] }
        if low[0] == high[0] {
            return sameWidth(Array(low.dropFirst()), Array(high.dropFirst())).map { String(low[0]) + $0 }
        }
        let rest = low.count - 1
        let lowTail = Array(low.dropFirst())
        let highTail = Array(high.dropFirst())
        let nines = [Character](repeating: "9", count: rest)
        let zeros = [Character](repeating: "0", count: rest)
        var parts = sameWidth(lowTail, nines).map { String(low[0]) + $0 }
        let lowNext = Character(String((low[0].wholeNumberValue ?? 0) + 1))
        let highPrevious = Character(String((high[0].wholeNumberValue ?? 0) - 1))
        if lowNext <= highPrevious {
            let lead = lowNext == highPrevious ? String(lowNext) : "[\(lowNext)-\(highPrevious)]"
            parts.append(lead + "[0-9]{\(rest)}")
        }
        parts += sameWidth(zeros, highTail).map { String(high[0]) + $0 }
        return parts
    }
}
