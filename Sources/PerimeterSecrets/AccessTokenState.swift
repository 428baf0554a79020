import Foundation
import PerimeterCore

/// When a bearer token of a cloud's identity service (Microsoft Entra ID, Google's OAuth, STS or
/// metadata server) serves and when a new one is asked for, as a value: events in (a token received,
/// a request failed, the resource refused the token), a decision out. The actor around it
/// (``RenewingToken``) only does the I/O and shares one request among concurrent callers.
///
/// - A token is renewed ahead of its expiry: five minutes before, or halfway for a short one.
/// - Its lifetime counts from when the request was sent, from the relative `expires_in`, so a slow
///   answer or a local clock that is off does not stretch it.
/// - After a failed request no new one goes out before a backoff (5 s, doubling, at most 60 s: Entra
///   and Google throttle a client that retries at once); meanwhile a token not yet expired still serves.
/// - A clock that moved back by more than a minute since the token was obtained makes its age
///   unknown: it is renewed, and not served once a renewal has failed.
struct AccessTokenState: Sendable {
    struct Token: Sendable {
        var value: Secret
        var obtainedAt: Date
        var renewAt: Date
        var expiresAt: Date

        func isValid(at now: Date) -> Bool {
            now < expiresAt && now >= obtainedAt.addingTimeInterval(-AccessTokenState.allowedClockStepBack)
        }
    }

    enum Action: Sendable {
        case use(Secret)
        case fetch
        case fail(any Error & Sendable)
    }

    static let renewalMargin: TimeInterval = 300
    static let firstBackoff: TimeInterval = 5
    static let maximumBackoff: TimeInterval = 60
    static let allowedClockStepBack: TimeInterval = 60

    private(set) var token: Token?
    private(set) var consecutiveFailures = 0
    private var retryAt: Date?
    private var lastError: (any Error & Sendable)?

    /// What a caller asking for a token at `now` gets.
    func next(at now: Date) -> Action {
        if let token, now < token.renewAt, token.isValid(at: now) { return .use(token.value) }
        if let retryAt, now < retryAt, let lastError {
            if let token, token.isValid(at: now) { return .use(token.value) }
            return .fail(lastError)
        }
        return .fetch
    }

    /// A token came back for a request sent at `requestedAt`, valid for `lifetime` seconds.
    mutating func received(_ value: Secret, lifetime: TimeInterval, requestedAt: Date) {
        let lifetime = max(0, lifetime)
        let margin = min(Self.renewalMargin, lifetime / 2)
        token = Token(
            value: value, obtainedAt: requestedAt, renewAt: requestedAt.addingTimeInterval(lifetime - margin),
            expiresAt: requestedAt.addingTimeInterval(lifetime))
        consecutiveFailures = 0
        retryAt = nil
        lastError = nil
    }

    /// The request sent at `now` failed.
    mutating func failed(_ error: any Error & Sendable, at now: Date) {
        consecutiveFailures += 1
        let backoff = min(Self.maximumBackoff, Self.firstBackoff * pow(2, Double(min(consecutiveFailures - 1, 10))))
        retryAt = now.addingTimeInterval(backoff)
        lastError = error
    }

    /// The resource refused `value` (revoked early, or its clock disagrees): the next caller asks for
    /// a new one, unless another caller has already replaced it.
    mutating func refused(_ value: Secret) {
        if token?.value == value { token = nil }
    }
}
