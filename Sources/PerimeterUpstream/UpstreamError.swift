/// Why a provider call produced no response head: the provider could not be reached, or did not answer
/// in time.
package enum UpstreamError: Error, Sendable {
    case unreachable(String)
    case timeout
}
