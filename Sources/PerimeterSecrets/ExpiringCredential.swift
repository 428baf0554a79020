import Foundation

/// When to use, renew or wait for a credential that expires (temporary AWS credentials, a cloud
/// token): a value type with no clock of its own, so every rule is tested with fixed times.
///
/// A credential is renewed ahead of its expiry: five minutes before, or at half its life when it lives
/// less than ten minutes. One whose expiry has already passed by the local clock (a skewed clock, or a
/// provider that answers with a stale expiry) is used for this call and fetched again at the next. A
/// failed fetch is not retried for a back-off that doubles from 5 s to 60 s, so a refusing endpoint is
/// not hammered; meanwhile a credential still valid is kept, and without one the caller fails.
public struct ExpiringCredential<Value: Sendable>: Sendable {
    public enum Decision: Equatable {
        /// Use the held value.
        case use
        /// Fetch a new one (and use the held value if the fetch fails and it has not expired).
        case fetch
        /// Fail at once: the last fetch failed moments ago and nothing valid is held.
        case fail
    }

    public private(set) var value: Value?
    public private(set) var expiresAt: Date?
    private var renewAt: Date?
    private var failures = 0
    private var retryAt: Date?

    public init() {}

    static var renewAhead: TimeInterval { 300 }
    static var firstBackoff: TimeInterval { 5 }
    static var maximumBackoff: TimeInterval { 60 }

    /// What to do at `now`.
    public func decide(now: Date) -> Decision {
        if value != nil, let renewAt, now < renewAt { return .use }
        if let retryAt, now < retryAt { return isValid(at: now) ? .use : .fail }
        return .fetch
    }

    /// Whether the held value may still be used at `now` (a credential with no expiry never expires).
    public func isValid(at now: Date) -> Bool {
        guard value != nil else { return false }
        return expiresAt.map { now < $0 } ?? true
    }

    /// A fetch at `now` returned `value`, valid until `expiresAt` (nil: until the process ends).
    public mutating func fetched(_ value: Value, expiresAt: Date?, now: Date) {
        self.value = value
        self.expiresAt = expiresAt
        failures = 0
        retryAt = nil
        guard let expiresAt else {
            renewAt = .distantFuture
            return
        }
        let life = expiresAt.timeIntervalSince(now)
        // Already expired by this clock: good for this call only.
        renewAt = life <= 0 ? now : expiresAt.addingTimeInterval(-min(Self.renewAhead, life / 2))
        if life <= 0 { self.expiresAt = now.addingTimeInterval(1) }
    }

    /// A fetch at `now` failed.
    public mutating func failed(now: Date) {
        failures += 1
        let backoff = min(Self.maximumBackoff, Self.firstBackoff * pow(2, Double(failures - 1)))
        retryAt = now.addingTimeInterval(backoff)
    }
}
