/// Why one exchange on an upstream connection produced no answer, or no whole answer.
enum UpstreamConnectionError: Error, Equatable {
    /// A reused keep-alive connection was closed by the server before it sent a byte of the answer; the
    /// request can go again on a new connection.
    case stale
    /// No response head within the deadline, or no bytes for the read timeout while a body streamed.
    case timeout
    /// The connection closed or failed while an answer was expected.
    case closed(String)
    /// The peer closed or reset the connection (end of file, `ECONNRESET`, `EPIPE`), as a server does
    /// to a keep-alive connection it no longer wants; the only failure a retry may follow.
    case lost(String)
    /// The caller stopped waiting for the head (its task was cancelled, as when its client left); the
    /// request may already be with the provider, so it is never retried.
    case cancelled
}
