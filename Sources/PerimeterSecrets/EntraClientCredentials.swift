import Foundation
import PerimeterCore

/// Something that hands out a bearer token for a provider, renewing it as needed.
public protocol BearerTokenSource: Sendable {
    func token() async throws -> Secret
}

/// Microsoft Entra ID's client credentials flow: a token for Azure OpenAI (scope
/// `https://cognitiveservices.azure.com/.default`) from the tenant's token endpoint, with the client
/// secret read from a secret reference; or, through ``EntraGrant``, workload identity federation or a
/// managed identity, for any scope. The token is kept until five minutes before it expires (or half
/// its life, for a short one); callers waiting while it is renewed share one request.
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

        public var tokenURL: URL { EntraGrant.tokenURL(authority: authority, tenantID: tenantID) }
    }

    public typealias Failure = EntraTokenFailure

    private let grant: EntraGrant
    private let renewing: RenewingToken

    public init(
        settings: Settings, resolver: SecretResolver, transport: any SecretHTTPTransport, now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.init(
            grant: .clientSecret(
                tokenURL: settings.tokenURL, clientID: settings.clientID, secret: settings.clientSecret, resolver: resolver),
            scope: settings.scope, transport: transport, now: now)
    }

    /// A token for `scope` (`https://vault.azure.net/.default` for Key Vault) through any grant.
    public init(
        grant: EntraGrant, scope: String, transport: any SecretHTTPTransport, now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.grant = grant
        renewing = RenewingToken(now: now) { requestedAt in
            let response = try await transport.send(try await grant.request(scope: scope))
            return try EntraGrant.token(from: response, requestedAt: requestedAt)
        }
    }

    /// The cached token until it is due for renewal; then a new one (see ``AccessTokenState`` for
    /// when, and what serves while renewal fails).
    public func token() async throws -> Secret {
        try await renewing.token()
    }

    /// Keeps the client secret of a grant with a resolver of its own fresh (Key Vault's); the
    /// gateway's own resolver is refreshed by its refresher.
    public func refreshClientSecret() async {
        if case .clientSecret(_, _, _, let resolver) = grant { await resolver.refreshDue() }
    }

    /// The resource answered 401 to `token`: the next call asks for a new one.
    public func refused(_ token: Secret) async {
        await renewing.refused(token)
    }
}
