import Foundation

/// How often a budget starts again. Periods are calendar-aligned in UTC: a day starts at 00:00, a week
/// on Monday, a month on the 1st. The start of the period is part of a counter's identity, so a new
/// period starts from zero with no reset job.
public enum BudgetPeriod: String, Sendable, Hashable, Codable, CaseIterable {
    case day, week, month, total

    private static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        calendar.firstWeekday = 2
        return calendar
    }()

    /// The start of the period that contains `date` (the distant past for `total`).
    public func start(containing date: Date) -> Date {
        let calendar = Self.utc
        switch self {
        case .day:
            return calendar.startOfDay(for: date)
        case .week:
            let day = calendar.startOfDay(for: date)
            // weekday: Sunday 1 … Saturday 7; Monday-based offset.
            let weekday = calendar.component(.weekday, from: day)
            return calendar.date(byAdding: .day, value: -((weekday + 5) % 7), to: day)!
        case .month:
            return calendar.date(from: calendar.dateComponents([.year, .month], from: date))!
        case .total:
            return Date(timeIntervalSince1970: 0)
        }
    }

    /// When the period containing `date` ends and the next begins; `nil` for `total`.
    public func end(containing date: Date) -> Date? {
        let start = start(containing: date)
        switch self {
        case .day: return Self.utc.date(byAdding: .day, value: 1, to: start)
        case .week: return Self.utc.date(byAdding: .day, value: 7, to: start)
        case .month: return Self.utc.date(byAdding: .month, value: 1, to: start)
        case .total: return nil
        }
    }
}

/// A spending limit over a period.
public struct Budget: Sendable, Hashable, Codable {
    public var limit: Money
    public var period: BudgetPeriod

    public init(limit: Money, period: BudgetPeriod) {
        self.limit = limit
        self.period = period
    }
}
