import Foundation

/// `since` values: a relative window (`90s`, `15m`, `1h`, `7d`, `4w`) or an RFC 3339 time.
package enum TimeWindow {
    package static func start(_ text: String, now: Date = Date()) -> Date? {
        if let date = Timestamp.parse(text) { return date }
        return seconds(text).map { now.addingTimeInterval(-$0) }
    }

    /// `90s`, `15m`, `1h`, `7d`, `4w` in seconds; `nil` for anything else.
    package static func seconds(_ text: String) -> Double? {
        guard let unit = text.last, let amount = Double(text.dropLast()), amount >= 0, amount.isFinite else { return nil }
        switch unit {
        case "s": return amount
        case "m": return amount * 60
        case "h": return amount * 3600
        case "d": return amount * 86400
        case "w": return amount * 7 * 86400
        default: return nil
        }
    }
}

extension TimeWindow {
    /// `90s`, `15m`, `24h`, `30d`: the largest unit that divides the duration.
    package static func describe(_ duration: Duration) -> String {
        let seconds = duration.components.seconds
        for (unit, size) in [("d", Int64(86400)), ("h", 3600), ("m", 60)] where seconds >= size && seconds % size == 0 {
            return "\(seconds / size)\(unit)"
        }
        return "\(seconds)s"
    }
}
