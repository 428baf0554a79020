/// What a call asked a provider to do; the call log's `operation` column.
public enum CallOperation: String, Sendable, Hashable, Codable, CaseIterable {
    case chat
    case responses
    case embeddings
    case messages
    case models
    case countTokens = "count_tokens"
    /// Gemini's generateContent and streamGenerateContent.
    case generate
    /// Bedrock's Converse and ConverseStream.
    case converse
    /// Bedrock's InvokeModel and InvokeModelWithResponseStream.
    case invoke
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
    /// Under way: a budgeted call's row, written (and committed) with its reserved worst case before
    /// the call goes upstream, and replaced by the call's final row when it ends. Spend totals leave
    /// these rows out, since the ledger holds their reservations.
    case inFlight = "in_flight"
    /// The gateway stopped (a crash, kill -9) while the call was under way: at the next start an
    /// `in_flight` row becomes this, charged its reserved worst case, so budget the provider may have
    /// spent never comes back as free.
    case interrupted
}
