import Foundation
import PerimeterCore

/// Watches the calls the proxy finishes, and tells it which addresses to answer slowly. The alert
/// center is the gateway's watcher; the proxy knows only this seam, so alerting sits above it.
package protocol CallWatcher: Sendable {
    /// Takes one finished call's record; must not block the request path.
    func observe(_ record: CallRecord)
    /// Whether unknown keys from `address` are answered slowly (a key-guessing burst is under way).
    func isTarpitted(_ address: String?, now: Date) -> Bool
}
