import Foundation
import PerimeterCore

/// `since` values: a relative window (`90s`, `15m`, `1h`, `7d`, `4w`) or an RFC 3339 time.
package enum TimeWindow {
    package static func start(_ text: String, now: Date = Date()) -> Date? {
        if let date = Timestamp.parse(text) { return date }
        guard let unit = text.last, let amount = Double(text.dropLast()), amount >= 0 else { return nil }
        let seconds: Double
        switch unit {
        case "s": seconds = amount
        case "m": seconds = amount * 60
        case "h": seconds = amount * 3600
        case "d": seconds = amount * 86400
        case "w": seconds = amount * 7 * 86400
        default: return nil
        }
        return now.addingTimeInterval(-seconds)
    }
}
