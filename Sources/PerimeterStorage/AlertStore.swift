import Foundation
import PerimeterCore

/// An alert as stored, with where it must be delivered and how that went.
public struct StoredAlert: Sendable, Hashable {
    public var alert: Alert
    public var deliveries: [AlertDelivery]

    public init(alert: Alert, deliveries: [AlertDelivery]) {
        self.alert = alert
        self.deliveries = deliveries
    }
}

/// One alert's delivery to one channel: the outbox row the dispatcher works from.
public struct AlertDelivery: Sendable, Hashable {
    public var alertID: String
    public var channel: String
    public var attempts: Int
    public var nextAttempt: Date
    public var deliveredAt: Date?
    public var lastError: String?

    public init(alertID: String, channel: String, attempts: Int = 0, nextAttempt: Date, deliveredAt: Date? = nil, lastError: String? = nil)
    {
        self.alertID = alertID
        self.channel = channel
        self.attempts = attempts
        self.nextAttempt = nextAttempt
        self.deliveredAt = deliveredAt
        self.lastError = lastError
    }
}

/// Durable alert history and delivery outbox: an alert raised before a crash or while a receiver is
/// down is delivered later, once per channel.
public protocol AlertStore: Sendable {
    /// Stores the alert and one pending delivery per channel, in one step.
    func insertAlert(_ alert: Alert, channels: [String], at time: Date) async throws
    /// Deliveries not yet done whose next attempt is due, oldest first.
    func dueDeliveries(at time: Date, limit: Int) async throws -> [(Alert, AlertDelivery)]
    func markDelivered(alertID: String, channel: String, at time: Date) async throws
    func markFailed(alertID: String, channel: String, error: String, nextAttempt: Date) async throws
    /// Alerts at or after `since`, newest first, with their deliveries.
    func alerts(since: Date?, limit: Int) async throws -> [StoredAlert]
}
