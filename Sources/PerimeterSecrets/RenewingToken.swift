import Foundation
import PerimeterCore

/// A bearer token kept by ``AccessTokenState`` and fetched again, when it says so, by one request
/// that concurrent callers share: Entra ID's tokens for Key Vault and Azure OpenAI, Google's for
/// Secret Manager.
actor RenewingToken {
    /// Asks the identity service for a token, for a request sent at the given time; answers the token
    /// and its lifetime in seconds.
    typealias Fetch = @Sendable (Date) async throws -> (Secret, TimeInterval)

    private let fetch: Fetch
    private let now: @Sendable () -> Date
    private var state = AccessTokenState()
    private var renewing: Task<(Secret, TimeInterval), any Error>?

    init(now: @escaping @Sendable () -> Date = Date.init, fetch: @escaping Fetch) {
        self.fetch = fetch
        self.now = now
    }

    /// The cached token until it is due for renewal; then a new one (see ``AccessTokenState`` for
    /// when, and what serves while renewal fails).
    func token() async throws -> Secret {
        let now = now()
        switch state.next(at: now) {
        case .use(let token): return token
        case .fail(let error): throw error
        case .fetch: break
        }
        if let renewing {
            do {
                return try await renewing.value.0
            } catch {
                // The shared renewal failed: a token not yet expired still serves this caller too.
                if let token = state.token, token.isValid(at: now) { return token.value }
                throw error
            }
        }
        let fetch = self.fetch
        let task = Task { try await fetch(now) }
        renewing = task
        defer { renewing = nil }
        do {
            let (token, lifetime) = try await task.value
            state.received(token, lifetime: lifetime, requestedAt: now)
            return token
        } catch {
            state.failed(error, at: now)
            if case .use(let token) = state.next(at: now) { return token }
            throw error
        }
    }

    /// The resource answered 401 to `token`: the next call asks for a new one.
    func refused(_ token: Secret) {
        state.refused(token)
    }
}
