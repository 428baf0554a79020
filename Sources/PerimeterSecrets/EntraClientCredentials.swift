import Foundation
import PerimeterCore

/// Something that hands out a bearer token for a provider, renewing it as needed.
public protocol BearerTokenSource: Sendable {
    func token() async throws -> Secret
}

/// Microsoft Entra ID's client credentials flow: a token for Azure OpenAI (scope
/// `https://cognitiveservices.azure.com/.default`) from the tenant's token endpoint, with the client
/// secret read from a secret reference. The token is kept until five minutes before it expires (or
/// half its life, for a short one); callers waiting while it is renewed share one request.
public actor EntraClientCredentials: BearerTokenSource {
    public struct Settings: Sendable, Hashable {
        /// `https://login.microsoftonline.com` unless configured (a sovereign cloud, a test double).
        public var authority: URL
        public var tenantID: String
        public var clientID: String
        public var clientSecret: SecretReference
        public var scope: String

        public init(
            authority: URL = URL(string: "https://login.microsoftonline.com")!, tenantID: String, clientID: String,
            clientSecret: SecretReference, scope: String = "https://cognitiveservices.azure.com/.default"
        ) {
            self.authority = authority
            self.tenantID = tenantID
            self.clientID = clientID
            self.clientSecret = clientSecret
            self.scope = scope
        }

        public var tokenURL: URL {
            authority.appendingPathComponent(tenantID).appendingPathComponent("oauth2/v2.0/token")
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    private let settings: Settings
    private let resolver: SecretResolver
    private let transport: any SecretHTTPTransport
    private let now: @Sendable () -> Date
    private var cached: (token: Secret, renewAt: Date, expiresAt: Date)?
    private var renewing: Task<(Secret, Date, Date), any Error>?
    /// After a refused or failed grant, no new request before this (Entra throttles a client that retries at once).
    private var failedUntil: (Date, any Error)?
    static let retryAfterFailure: TimeInterval = 5

    public init(
        settings: Settings, resolver: SecretResolver, transport: any SecretHTTPTransport, now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.settings = settings
        self.resolver = resolver
        self.transport = transport
        self.now = now
    }

    /// The cached token until it is due for renewal; then a new one. While the renewal fails, a token
    /// not yet expired still serves; a failure is not retried for five seconds.
    public func token() async throws -> Secret {
        let now = now()
        if let cached, cached.renewAt > now { return cached.token }
        if let (until, error) = failedUntil, until > now {
            if let cached, cached.expiresAt > now { return cached.token }
            throw error
        }
        if let renewing { return try await renewing.value.0 }
        let task = Task { try await self.fetch() }
        renewing = task
        defer { renewing = nil }
        do {
            let (token, renewAt, expiresAt) = try await task.value
            cached = (token, renewAt, expiresAt)
            failedUntil = nil
            return token
        } catch {
            failedUntil = (now.addingTimeInterval(Self.retryAfterFailure), error)
            if let cached, cached.expiresAt > now { return cached.token }
            throw error
        }
    }

    private func fetch() async throws -> (Secret, Date, Date) {
        let secret = try await resolver.secret(for: settings.clientSecret)
        func encoded(_ text: String) -> String {
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~")
            return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
        }
        let form = [
            ("grant_type", "client_credentials"), ("client_id", settings.clientID), ("client_secret", secret.revealed),
            ("scope", settings.scope),
        ].map { "\($0.0)=\(encoded($0.1))" }.joined(separator: "&")
        let started = now()
        let response = try await transport.send(
            SecretHTTPRequest(
                method: "POST", url: settings.tokenURL, headers: [("Content-Type", "application/x-www-form-urlencoded")],
                body: Array(form.utf8)))
        let object = JSONValue.object(response.body)
        guard response.status == 200, let token = object?["access_token"] as? String, !token.isEmpty else {
            // Entra's error and its description name the problem; neither holds the secret.
            let error = object?["error"] as? String ?? "status \(response.status)"
            let detail = (object?["error_description"] as? String).map { ": " + $0.prefix(300) } ?? ""
            throw Failure(description: "Entra ID refused the token request (\(error)\(detail))")
        }
        let lifetime = (object?["expires_in"] as? Double) ?? Double(object?["expires_in"] as? String ?? "") ?? 3600
        let margin = min(300, lifetime / 2)
        return (Secret(token), started.addingTimeInterval(max(0, lifetime - margin)), started.addingTimeInterval(lifetime))
    }
}
