/// `console`: the web console at `/console/` and its sign-in sessions.
public struct ConsoleSettings: Sendable, Hashable {
    /// When the session cookie carries `Secure`.
    public enum SecureCookie: String, Sendable, Hashable, CaseIterable {
        /// When the request came over TLS: through a trusted proxy that says `X-Forwarded-Proto: https`.
        case auto
        case always
        case never
    }

    /// `console.enabled` (default true): `false` serves no page and no asset.
    public var enabled = true
    /// `console.session_idle` (default 30m, 1m to 24h): a session unused this long ends.
    public var sessionIdle: Double = 30 * 60
    /// `console.session_lifetime` (default 12h, 5m to 30d): a session ends this long after sign-in, used or not.
    public var sessionLifetime: Double = 12 * 3600
    /// `console.secure_cookie` (default auto).
    public var secureCookie = SecureCookie.auto

    public init() {}
}
