import Foundation

/// Durations as configuration, flags and the admin API write them: `90s`, `15m`, `1h`, `7d`, `4w`.
package enum TimeWindow {
    /// The longest window or duration accepted anywhere: 100 years, in seconds. Longer ones are
    /// refused as input, so every conversion of a duration to whole seconds is in range.
    package static let maximumSeconds: Double = 100 * 366 * 86400

    /// `90s`, `15m`, `1h`, `7d`, `4w` in seconds; `nil` for anything else, or for more than 100 years.
    package static func seconds(_ text: String) -> Double? {
        guard let unit = text.last, let amount = Double(text.dropLast()), amount >= 0, amount.isFinite else { return nil }
        let seconds: Double
        switch unit {
        case "s": seconds = amount
        case "m": seconds = amount * 60
        case "h": seconds = amount * 3600
        case "d": seconds = amount * 86400
        case "w": seconds = amount * 7 * 86400
        default: return nil
        }
        return seconds <= maximumSeconds ? seconds : nil
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
