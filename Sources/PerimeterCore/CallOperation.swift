/// What a call asked a provider to do; the call log's `operation` column.
public enum CallOperation: String, Sendable, Hashable, Codable, CaseIterable {
    case chat
    case responses
    case embeddings
    case messages
    case models
    case countTokens = "count_tokens"
}

/// How a call ended; the call log's `outcome` column.
public enum Outcome: String, Sendable, Hashable, Codable, CaseIterable {
    /// Upstream answered and the whole answer reached the client.
    case ok
    /// The gateway refused the call (authentication, validation, routing) before any upstream call.
    case denied
    /// Upstream was unreachable, timed out, or answered with an error status.
    case upstreamError = "upstream_error"
    /// Upstream broke off a streamed answer.
    case streamCut = "stream_cut"
    /// The client went away before the answer was complete.
    case clientCancelled = "client_cancelled"
}
