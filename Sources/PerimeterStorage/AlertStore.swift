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
    /// Stores the alert and one pending delivery per channel, in one step. Returns false, storing
    /// nothing, when an alert with the same `onceKey` is stored already (raised by another instance).
    @discardableResult
    func insertAlert(_ alert: Alert, channels: [String], at time: Date) async throws -> Bool
    /// Claims deliveries not yet done whose next attempt is due, oldest first: each one's next attempt
    /// moves to `until`, so no other dispatcher (of this instance or another) takes it meanwhile. The
    /// claimer marks it delivered or failed; if it dies instead, the delivery is due again at `until`.
    func claimDueDeliveries(at time: Date, limit: Int, until: Date) async throws -> [(Alert, AlertDelivery)]
    func markDelivered(alertID: String, channel: String, at time: Date) async throws
    func markFailed(alertID: String, channel: String, error: String, nextAttempt: Date) async throws
    /// Alerts at or after `since`, newest first, with their deliveries.
    func alerts(since: Date?, limit: Int) async throws -> [StoredAlert]
}
