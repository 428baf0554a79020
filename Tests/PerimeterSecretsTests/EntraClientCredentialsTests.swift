import Foundation
import PerimeterCore
import Synchronization
import Testing

@testable import PerimeterSecrets

/// Entra ID's client credentials grant, against a fake token endpoint.
@Suite struct EntraClientCredentialsTests {
    final class TokenEndpoint: SecretHTTPTransport {
        let requests = Mutex<[SecretHTTPRequest]>([])
        let answer: @Sendable (Int) -> SecretHTTPResponse

        init(answer: @escaping @Sendable (Int) -> SecretHTTPResponse) { self.answer = answer }

        func send(_ request: SecretHTTPRequest) async throws -> SecretHTTPResponse {
            let count = requests.withLock { requests in
                requests.append(request)
                return requests.count
            }
            try await Task.sleep(for: .milliseconds(20))
            return answer(count)
        }
    }

    final class Clock: Sendable {
        let now = Mutex(Date(timeIntervalSince1970: 1_790_000_000))
        func advance(_ seconds: TimeInterval) { now.withLock { $0 = $0.addingTimeInterval(seconds) } }
    }

    func source(_ endpoint: TokenEndpoint, clock: Clock) -> EntraClientCredentials {
        let settings = EntraClientCredentials.Settings(
            tenantID: "contoso", clientID: "app-1", clientSecret: SecretReference(scheme: "env", path: "ENTRA_SECRET"))
        let resolver = SecretResolver(
            stores: ["env": EnvironmentSecretStore(environment: ["ENTRA_SECRET": "s3cr&t=+/"])], logger: .init(label: "test"))
        return EntraClientCredentials(settings: settings, resolver: resolver, transport: endpoint, now: { clock.now.withLock { $0 } })
    }

    static func token(_ count: Int, expiresIn: Int = 3600) -> SecretHTTPResponse {
        SecretHTTPResponse(
            status: 200, body: Array(#"{"token_type":"Bearer","expires_in":\#(expiresIn),"access_token":"t\#(count)"}"#.utf8))
    }

    @Test func oneGrantServesUntilFiveMinutesBeforeExpiryAndConcurrentCallersShareIt() async throws {
        let endpoint = TokenEndpoint { Self.token($0) }
        let clock = Clock()
        let entra = source(endpoint, clock: clock)
        let tokens = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<8 { group.addTask { try await entra.token().revealed } }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(tokens == ["t1"])
        let request = try #require(endpoint.requests.withLock { $0.first })
        #expect(request.url.absoluteString == "https://login.microsoftonline.com/contoso/oauth2/v2.0/token")
        let form = String(decoding: request.body, as: UTF8.self)
        #expect(form.contains("grant_type=client_credentials") && form.contains("client_id=app-1"))
        // The secret is form-encoded, not sent raw.
        #expect(form.contains("client_secret=s3cr%26t%3D%2B%2F"))
        #expect(form.contains("scope=https%3A%2F%2Fcognitiveservices.azure.com%2F.default"))
        clock.advance(3600 - 301)
        #expect(try await entra.token().revealed == "t1")
        clock.advance(2)
        #expect(try await entra.token().revealed == "t2")
        #expect(endpoint.requests.withLock { $0.count } == 2)
    }

    @Test func aShortLivedTokenIsRenewedHalfwayAndARefusalSaysWhyWithoutTheSecret() async throws {
        let clock = Clock()
        let short = source(TokenEndpoint { Self.token($0, expiresIn: 60) }, clock: clock)
        #expect(try await short.token().revealed == "t1")
        clock.advance(31)
        #expect(try await short.token().revealed == "t2")

        let refusing = source(
            TokenEndpoint { _ in
                SecretHTTPResponse(
                    status: 401,
                    body: Array(#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#.utf8))
            }, clock: clock)
        do {
            _ = try await refusing.token()
            Issue.record("a refused grant must throw")
        } catch {
            #expect("\(error)".contains("invalid_client") && "\(error)".contains("AADSTS7000215"))
            #expect(!"\(error)".contains("s3cr"))
        }
    }
}

extension EntraClientCredentialsTests {
    @Test func aFailedRenewalKeepsTheTokenUntilItExpiresAndIsNotRetriedAtOnce() async throws {
        let clock = Clock()
        // The first grant succeeds; every later one fails.
        let endpoint = TokenEndpoint { count in
            count == 1 ? Self.token(1) : SecretHTTPResponse(status: 503, body: Array(#"{"error":"temporarily_unavailable"}"#.utf8))
        }
        let entra = source(endpoint, clock: clock)
        #expect(try await entra.token().revealed == "t1")
        // Due for renewal, which fails: the token, still valid, serves; no second request for five seconds.
        clock.advance(3600 - 200)
        #expect(try await entra.token().revealed == "t1")
        #expect(try await entra.token().revealed == "t1")
        #expect(endpoint.requests.withLock { $0.count } == 2)
        clock.advance(6)
        #expect(try await entra.token().revealed == "t1")
        #expect(endpoint.requests.withLock { $0.count } == 3)
        // Once it has expired, the failure is the caller's.
        clock.advance(300)
        await #expect(throws: EntraClientCredentials.Failure.self) { try await entra.token() }
    }
}
