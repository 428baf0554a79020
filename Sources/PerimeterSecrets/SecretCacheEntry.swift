import PerimeterCore

/// What the resolver knows of one reference: a pure state machine, with time passed in, so its rules
/// are tested without stores or clocks.
///
/// - A fresh value serves for the time to live; then the refresher fetches it again in the background
///   while the old value keeps serving.
/// - When the store is unreachable, the last good value serves until `grace` after the first failure,
///   then reads fail closed.
/// - When the store answers that the secret is gone or refused, the value is dropped at once.
/// - An incident is reported once when it starts, once when its grace ends, and once on recovery.
public struct SecretCacheEntry: Sendable {
    public enum Read: Sendable, Equatable {
        case serve(Secret)
        /// Nothing to serve yet and no recent failure: fetch now.
        case fetch
        case unavailable(reason: String)
    }

    public enum Event: Sendable, Equatable {
        case incidentStarted(reason: String, servingLastGood: Bool)
        case graceEnded(reason: String)
        case recovered
    }

    public private(set) var value: FetchedSecret?
    public private(set) var lastAttempt: ContinuousClock.Instant?
    public private(set) var lastSuccess: ContinuousClock.Instant?
    public private(set) var failingSince: ContinuousClock.Instant?
    public private(set) var failure: String?
    /// The last failure was the store saying the secret does not exist.
    public private(set) var missing = false
    private var graceEndReported = false
    /// Fetches are numbered as they start; a result older than one already applied is ignored, so a
    /// slow fetch that began before a rotation cannot put the old value back.
    private var attempts: UInt64 = 0
    private var applied: UInt64 = 0

    public init() {}

    /// What a request gets now.
    public func read(at now: ContinuousClock.Instant, grace: Duration, retryAfter: Duration) -> Read {
        if let value {
            if let since = failingSince, now >= since + grace {
                return .unavailable(reason: failure ?? "the store is unavailable")
            }
            return .serve(value.secret)
        }
        if failingSince != nil, let lastAttempt, now < lastAttempt + retryAfter {
            return .unavailable(reason: failure ?? "the store is unavailable")
        }
        return .fetch
    }

    /// Whether the refresher should fetch again: every `timeToLive` while healthy, every `retryAfter`
    /// while failing.
    public func isDue(at now: ContinuousClock.Instant, timeToLive: Duration, retryAfter: Duration) -> Bool {
        guard let lastAttempt else { return true }
        return now >= lastAttempt + (failingSince == nil ? timeToLive : min(timeToLive, retryAfter))
    }

    /// Marks a fetch as started and returns its ticket for ``succeeded(_:at:ticket:)`` or ``failed(reason:transient:missing:at:ticket:)``.
    public mutating func attempted(at now: ContinuousClock.Instant) -> UInt64 {
        lastAttempt = now
        attempts += 1
        return attempts
    }

    public mutating func succeeded(_ fetched: FetchedSecret, at now: ContinuousClock.Instant, ticket: UInt64? = nil) -> Event? {
        if let ticket {
            guard ticket > applied else { return nil }
            applied = ticket
        }
        let wasFailing = failingSince != nil
        value = fetched
        lastAttempt = now
        lastSuccess = now
        failingSince = nil
        failure = nil
        missing = false
        graceEndReported = false
        return wasFailing ? .recovered : nil
    }

    /// Records a failed fetch. `transient` failures (store away) keep the last good value for the
    /// grace period; others drop it.
    public mutating func failed(
        reason: String, transient: Bool, missing: Bool = false, at now: ContinuousClock.Instant, ticket: UInt64? = nil
    ) -> Event? {
        if let ticket {
            guard ticket > applied else { return nil }
            applied = ticket
        }
        lastAttempt = now
        failure = reason
        self.missing = missing
        if !transient {
            value = nil
        }
        guard failingSince == nil else { return nil }
        failingSince = now
        return .incidentStarted(reason: reason, servingLastGood: value != nil)
    }

    /// Reports, once per incident, that the grace period has run out.
    public mutating func checkGrace(at now: ContinuousClock.Instant, grace: Duration) -> Event? {
        guard let since = failingSince, value != nil, !graceEndReported, now >= since + grace else { return nil }
        graceEndReported = true
        return .graceEnded(reason: failure ?? "the store is unavailable")
    }
}
