import PerimeterCore

/// Watches the calls the proxy finishes. The alert center is the gateway's watcher; the proxy knows
/// only this seam, so alerting sits above it.
package protocol CallWatcher: Sendable {
    /// Takes one finished call's record; must not block the request path.
    func observe(_ record: CallRecord)
}
