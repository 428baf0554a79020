/// An amount in US dollars, held as whole nanodollars so that sums and budget comparisons are exact.
public struct Money: Sendable, Hashable, Comparable, AdditiveArithmetic, Codable {
    public var nanos: Int64

    public init(nanos: Int64) {
        self.nanos = nanos
    }

    /// Rounds to the nearest nanodollar.
    public init(usd: Double) {
        nanos = Int64((usd * 1e9).rounded())
    }

    public var usd: Double { Double(nanos) / 1e9 }

    public static let zero = Money(nanos: 0)

    public static func + (lhs: Money, rhs: Money) -> Money { Money(nanos: lhs.nanos + rhs.nanos) }
    public static func - (lhs: Money, rhs: Money) -> Money { Money(nanos: lhs.nanos - rhs.nanos) }
    public static func < (lhs: Money, rhs: Money) -> Bool { lhs.nanos < rhs.nanos }

    /// Encoded as a JSON number of dollars, which is what people and spreadsheets expect.
    public init(from decoder: any Decoder) throws {
        self.init(usd: try decoder.singleValueContainer().decode(Double.self))
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
