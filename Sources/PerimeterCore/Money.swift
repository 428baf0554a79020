/// An amount in US dollars, held as whole nanodollars so that sums and budget comparisons are exact.
public struct Money: Sendable, Hashable, Comparable, AdditiveArithmetic, Codable {
    public var nanos: Int64

    public init(nanos: Int64) {
        self.nanos = nanos
    }

    /// The largest amount a `Money` holds, about 9.2 billion dollars.
    public static let max = Money(nanos: .max)

    /// Rounds to the nearest nanodollar; beyond ±``max`` it saturates, and NaN is zero, so no input
    /// can trap here. Use ``init(exactly:)`` where an out-of-range amount must be refused instead.
    public init(usd: Double) {
        let scaled = (usd * 1e9).rounded()
        if scaled.isNaN {
            nanos = 0
        } else if scaled >= 9.223_372_036_854_775e18 {
            nanos = .max
        } else if scaled <= -9.223_372_036_854_775e18 {
            nanos = .min
        } else {
            nanos = Int64(scaled)
        }
    }

    /// The amount, or `nil` when `usd` is not a finite number a `Money` can hold.
    public init?(exactly usd: Double) {
        guard usd.isFinite, abs(usd) < 9.2e9 else { return nil }
        self.init(usd: usd)
    }

    public var usd: Double { Double(nanos) / 1e9 }

    public static let zero = Money(nanos: 0)

    /// Sums saturate at ±``max`` instead of trapping on overflow.
    public static func + (lhs: Money, rhs: Money) -> Money { Money(nanos: Int64.saturating(lhs.nanos, plus: rhs.nanos)) }
    public static func - (lhs: Money, rhs: Money) -> Money {
        Money(nanos: Int64.saturating(lhs.nanos, plus: rhs.nanos == .min ? .max : -rhs.nanos))
    }
    public static func < (lhs: Money, rhs: Money) -> Bool { lhs.nanos < rhs.nanos }

    /// Encoded as a JSON number of dollars, which is what people and spreadsheets expect. A number
    /// no `Money` can hold is a decoding error, never a trap.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let usd = try container.decode(Double.self)
        guard let money = Money(exactly: usd) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "\(usd) is not an amount of US dollars from -9.2e9 to 9.2e9")
        }
        self = money
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(usd)
    }
}

extension Money: CustomStringConvertible {
    /// `$0.000123` for small amounts, `$12.35` for large ones: enough digits to see a single call's cost.
    public var description: String {
        let value = usd
        let digits = abs(value) >= 100 ? 2 : abs(value) >= 1 ? 4 : 6
        return "$" + Self.fixed(value, digits: digits)
    }

    static func fixed(_ value: Double, digits: Int) -> String {
        var scale: Int64 = 1
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int64((abs(value) * Double(scale)).rounded())
        let whole = scaled / scale
        let fraction = String(scaled % scale)
        let padded = String(repeating: "0", count: digits - fraction.count) + fraction
        return (value < 0 && scaled != 0 ? "-" : "") + "\(whole)" + (digits > 0 ? "." + padded : "")
    }
}

extension Int64 {
    /// `a + b`, clamped to the type's range instead of trapping.
    package static func saturating(_ a: Int64, plus b: Int64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b > 0 ? .max : .min) : sum
    }

    /// `a × b`, clamped to the type's range instead of trapping.
    package static func saturating(_ a: Int64, times b: Int64) -> Int64 {
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? ((a < 0) == (b < 0) ? .max : .min) : product
    }
}
