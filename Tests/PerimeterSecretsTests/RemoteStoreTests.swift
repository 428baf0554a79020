import Foundation
import PerimeterCore
import Synchronization
import Testing

@testable import PerimeterSecrets

/// Answers each request with a closure and records what was sent.
final class ScriptedTransport: SecretHTTPTransport {
    private let answer: @Sendable (SecretHTTPRequest) throws -> SecretHTTPResponse
    private let sent = Mutex<[SecretHTTPRequest]>([])

    init(_ answer: @escaping @Sendable (SecretHTTPRequest) throws -> SecretHTTPResponse) {
        self.answer = answer
    }

    var requests: [SecretHTTPRequest] { sent.withLock { $0 } }

    func send(_ request: SecretHTTPRequest) async throws -> SecretHTTPResponse {
        sent.withLock { $0.append(request) }
        return try answer(request)
    }
}

struct Refused: Error {}

func response(_ status: Int, _ json: String) -> SecretHTTPResponse {
    SecretHTTPResponse(status: status, body: Array(json.utf8))
}

/// A clock tests move by hand.
final class ManualClock: Sendable {
    private let offset = Mutex<Duration>(.zero)
    let origin = ContinuousClock.now
    var now: ContinuousClock.Instant { origin + offset.withLock { $0 } }
    func advance(_ duration: Duration) { offset.withLock { $0 += duration } }
}

@Suite struct VaultSecretStoreTests {
    let address = URL(string: "http://vault.test:8200")!
    let kv = #"""
        {"data":{"data":{"api_key":"sk-from-vault","other":"x"},
         "metadata":{"version":7,"created_time":"2026-11-01T10:00:00.123456Z"}}}
        """#

    @Test func readsAKV2FieldWithTokenAndNamespace() async throws {
        let transport = ScriptedTransport { _ in response(200, kv) }
        let store = VaultSecretStore(
            configuration: VaultConfiguration(address: address, namespace: "team-a", auth: .token(Secret("s.token"))),
            transport: transport)
        let fetched = try await store.fetch(try SecretReference(parsing: "vault:secret/perimeter/openai#api_key"))
        #expect(fetched.secret.revealed == "sk-from-vault")
        #expect(fetched.version == "7")
        #expect(fetched.createdAt != nil)
        let request = try #require(transport.requests.first)
        #expect(request.method == "GET")
        #expect(request.url.absoluteString == "http://vault.test:8200/v1/secret/data/perimeter/openai")
        #expect(request.header("X-Vault-Token") == "s.token")
        #expect(request.header("X-Vault-Namespace") == "team-a")
    }

    @Test func reportsEachFailureForWhatItIs() async throws {
        func fetch(_ status: Int, _ body: String, _ text: String = "vault:secret/app#api_key") async -> (any Error)? {
            let store = VaultSecretStore(
                configuration: VaultConfiguration(address: address, namespace: nil, auth: .token(Secret("t"))),
                transport: ScriptedTransport { _ in response(status, body) })
            do {
                _ = try await store.fetch(try SecretReference(parsing: text))
                return nil
            } catch {
                return error
            }
        }
        let missingField = await fetch(200, kv, "vault:secret/app#nope") as? SecretStoreError
        #expect(missingField.map { "\($0)" }?.contains("its fields are api_key, other") == true)
        #expect(await fetch(200, kv, "vault:secret/app") as? SecretStoreError != nil)  // two fields, none named
        guard case .notFound = await fetch(404, #"{"errors":[]}"#) as? SecretStoreError else { Issue.record("404"); return }
        guard case .unreadable = await fetch(403, #"{"errors":["permission denied"]}"#) as? SecretStoreError else {
            Issue.record("403")
            return
        }
        let sealed = await fetch(503, #"{"errors":["Vault is sealed"]}"#) as? SecretStoreError
        #expect(sealed?.isTransient == true)
        #expect(sealed.map { "\($0)" }?.contains("Vault is sealed") == true)
        let store = VaultSecretStore(
            configuration: VaultConfiguration(address: address, namespace: nil, auth: .token(Secret("t"))),
            transport: ScriptedTransport { _ in throw Refused() })
        do {
            _ = try await store.fetch(try SecretReference(parsing: "vault:a/b#c"))
            Issue.record("expected unreachable")
        } catch let error as SecretStoreError {
            #expect(error.isTransient)
        }
    }

    @Test func aFixedTokenIsRenewedWhileVaultLetsIt() async throws {
        let clock = ManualClock()
        let renewals = Mutex(0)
        let transport = ScriptedTransport { request in
            #expect(request.header("X-Vault-Token") == "hvs.fixed")
            switch request.url.path {
            case "/v1/auth/token/lookup-self":
                return response(200, #"{"data":{"ttl":60,"renewable":true}}"#)
            case "/v1/auth/token/renew-self":
                let count = renewals.withLock {
                    $0 += 1; return $0
                }
                // The second renewal meets the token's max TTL: 10 s left, no further renewal.
                return response(200, #"{"auth":{"client_token":"hvs.fixed","lease_duration":\#(count == 1 ? 60 : 10),"renewable":true}}"#)
            default:
                return response(200, kv)
            }
        }
        let store = VaultSecretStore(
            configuration: VaultConfiguration(address: address, namespace: nil, auth: .token(Secret("hvs.fixed"))), transport: transport,
            now: { clock.now })
        await store.maintain()
        #expect(transport.requests.map(\.url.path) == ["/v1/auth/token/lookup-self"])
        clock.advance(.seconds(41))
        await store.maintain()
        clock.advance(.seconds(41))
        await store.maintain()
        #expect(renewals.withLock { $0 } == 2)
        clock.advance(.seconds(41))
        await store.maintain()
        #expect(renewals.withLock { $0 } == 2, "a token at its max TTL is not renewed again")
        _ = try await store.fetch(try SecretReference(parsing: "vault:secret/app#api_key"))
        #expect(transport.requests.last?.header("X-Vault-Token") == "hvs.fixed")
    }

    @Test func logsInWithAServiceAccountJWTReadAgainAtEachLogin() async throws {
        let clock = ManualClock()
        let tokenFile = FileManager.default.temporaryDirectory.appendingPathComponent("sa-\(UUID().uuidString)").path
        try "jwt-one\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let transport = ScriptedTransport { request in
            switch request.url.path {
            case "/v1/auth/kubernetes/login":
                let body = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] ?? [:]
                guard body["role"] as? String == "perimeter", let jwt = body["jwt"] as? String, jwt.hasPrefix("jwt-") else {
                    return response(400, #"{"errors":["invalid role or JWT"]}"#)
                }
                return response(200, #"{"auth":{"client_token":"tok-\#(jwt)","lease_duration":10,"renewable":false}}"#)
            default:
                return response(200, kv)
            }
        }
        let store = VaultSecretStore(
            configuration: VaultConfiguration(
                address: address, namespace: nil, auth: .jwt(mount: "kubernetes", role: "perimeter", tokenFile: tokenFile)),
            transport: transport, now: { clock.now })
        let reference = try SecretReference(parsing: "vault:secret/app#api_key")
        _ = try await store.fetch(reference)
        #expect(transport.requests.last?.header("X-Vault-Token") == "tok-jwt-one")
        // The kubelet rotates the file; the next login (the lease is not renewable) sends the new token.
        try "jwt-two".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        clock.advance(.seconds(7))
        await store.maintain()
        _ = try await store.fetch(reference)
        #expect(transport.requests.last?.header("X-Vault-Token") == "tok-jwt-two")
        try FileManager.default.removeItem(atPath: tokenFile)
        clock.advance(.seconds(11))
        await #expect(throws: SecretStoreError.self) { _ = try await store.fetch(reference) }
    }

    @Test func logsInWithAppRoleAndRenewsBeforeTheLeaseEnds() async throws {
        let clock = ManualClock()
        let logins = Mutex(0)
        let transport = ScriptedTransport { request in
            switch request.url.path {
            case "/v1/auth/approle/login":
                let body = String(decoding: request.body, as: UTF8.self)
                guard body.contains(#""role_id":"role-1""#), body.contains(#""secret_id":"secret-1""#) else {
                    return response(400, #"{"errors":["invalid role or secret ID"]}"#)
                }
                let count = logins.withLock {
                    $0 += 1; return $0
                }
                return response(200, #"{"auth":{"client_token":"tok-\#(count)","lease_duration":60,"renewable":true}}"#)
            case "/v1/auth/token/renew-self":
                return response(
                    200, #"{"auth":{"client_token":"\#(request.header("X-Vault-Token")!)","lease_duration":60,"renewable":true}}"#)
            default:
                return response(200, kv)
            }
        }
        let store = VaultSecretStore(
            configuration: VaultConfiguration(
                address: address, namespace: nil, auth: .appRole(mount: "approle", roleID: "role-1", secretID: Secret("secret-1"))),
            transport: transport, now: { clock.now })
        let reference = try SecretReference(parsing: "vault:secret/app#api_key")
        _ = try await store.fetch(reference)
        #expect(transport.requests.last?.header("X-Vault-Token") == "tok-1")
        await store.maintain()  // too early: nothing
        #expect(transport.requests.count == 2)
        clock.advance(.seconds(41))
        await store.maintain()
        #expect(transport.requests.last?.url.path == "/v1/auth/token/renew-self")
        #expect(transport.requests.last?.header("X-Vault-Token") == "tok-1")
        clock.advance(.seconds(41))  // 82 s after login, but renewed at 41 s
        _ = try await store.fetch(reference)
        #expect(transport.requests.last?.header("X-Vault-Token") == "tok-1")
        #expect(logins.withLock { $0 } == 1)
        clock.advance(.seconds(61))  // the lease ran out with no renewal: log in again
        _ = try await store.fetch(reference)
        #expect(logins.withLock { $0 } == 2)
        #expect(transport.requests.last?.header("X-Vault-Token") == "tok-2")
    }

    @Test func aBadSecretIDIsAClearError() async throws {
        let store = VaultSecretStore(
            configuration: VaultConfiguration(
                address: address, namespace: nil, auth: .appRole(mount: "approle", roleID: "r", secretID: Secret("wrong"))),
            transport: ScriptedTransport { _ in response(400, #"{"errors":["invalid role or secret ID"]}"#) })
        do {
            _ = try await store.fetch(try SecretReference(parsing: "vault:secret/app#api_key"))
            Issue.record("expected a login failure")
        } catch {
            #expect("\(error)".contains("AppRole login"))
            #expect(!"\(error)".contains("wrong"))
        }
    }
}

@Suite struct AWSSecretsManagerStoreTests {
    let credentials = AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: Secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"))

    func store(_ transport: ScriptedTransport) -> AWSSecretsManagerStore {
        AWSSecretsManagerStore(
            configuration: AWSSecretsManagerConfiguration(
                region: "eu-west-1", endpoint: URL(string: "http://127.0.0.1:5000")!, credentials: credentials),
            transport: transport, clock: { Date(timeIntervalSince1970: 1_764_400_000) })
    }

    @Test func sendsASignedGetSecretValue() async throws {
        let transport = ScriptedTransport { _ in
            response(
                200, #"{"Name":"prod/openai","SecretString":"{\"api_key\":\"sk-from-aws\"}","VersionId":"v-1","CreatedDate":1764400000.5}"#)
        }
        let fetched = try await store(transport).fetch(try SecretReference(parsing: "aws-sm:prod/openai#api_key"))
        #expect(fetched.secret.revealed == "sk-from-aws")
        #expect(fetched.version == "v-1")
        let request = try #require(transport.requests.first)
        #expect(request.method == "POST")
        #expect(request.url.absoluteString == "http://127.0.0.1:5000/")
        #expect(request.header("X-Amz-Target") == "secretsmanager.GetSecretValue")
        #expect(request.header("Content-Type") == "application/x-amz-json-1.1")
        #expect(String(decoding: request.body, as: UTF8.self) == #"{"SecretId":"prod/openai"}"#)
        let authorization = try #require(request.header("Authorization"))
        #expect(authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20251129/eu-west-1/secretsmanager/aws4_request"))
        #expect(authorization.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-target"))
        #expect(request.header("X-Amz-Date") == "20251129T070640Z")
    }

    @Test func aWholeSecretStringOrAFieldOrAClearError() async throws {
        let plain = ScriptedTransport { _ in response(200, #"{"SecretString":"sk-plain","VersionId":"v-2"}"#) }
        #expect(try await store(plain).fetch(try SecretReference(parsing: "aws-sm:plain")).secret.revealed == "sk-plain")
        await #expect(throws: SecretStoreError.self) {
            try await store(plain).fetch(try SecretReference(parsing: "aws-sm:plain#api_key"))
        }
        let missing = ScriptedTransport { _ in
            response(400, #"{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}"#)
        }
        do {
            _ = try await store(missing).fetch(try SecretReference(parsing: "aws-sm:absent"))
            Issue.record("expected not found")
        } catch let error as SecretStoreError {
            guard case .notFound = error else { Issue.record("\(error)"); return }
        }
        let down = ScriptedTransport { _ in response(503, #"{"__type":"ServiceUnavailable"}"#) }
        do {
            _ = try await store(down).fetch(try SecretReference(parsing: "aws-sm:x"))
            Issue.record("a 503 must fail")
        } catch let error as SecretStoreError {
            #expect(error.isTransient)
        }
    }

    @Test func configurationComesFromTheStandardVariables() throws {
        let base = ["AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_REGION": "us-east-2"]
        #expect(
            try AWSSecretsManagerConfiguration.from(environment: base).endpoint.absoluteString
                == "https://secretsmanager.us-east-2.amazonaws.com")
        var custom = base
        custom["AWS_ENDPOINT_URL"] = "http://generic:1"
        custom["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = "http://specific:2"
        #expect(try AWSSecretsManagerConfiguration.from(environment: custom).endpoint.absoluteString == "http://specific:2")
        custom["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = nil
        #expect(try AWSSecretsManagerConfiguration.from(environment: custom).endpoint.absoluteString == "http://generic:1")
        #expect(try AWSSecretsManagerConfiguration.from(environment: base, region: "eu-north-1").region == "eu-north-1")
        custom["AWS_SESSION_TOKEN"] = "session"
        #expect(try AWSSecretsManagerConfiguration.from(environment: custom).environment["AWS_SESSION_TOKEN"] == "session")
        // No source in the chain at all (instance metadata turned off, no files): a clear error at start.
        let nothing = ["AWS_REGION": "us-east-2", "AWS_EC2_METADATA_DISABLED": "true", "HOME": "/nonexistent"]
        #expect(throws: AWSConfigurationError.self) { try AWSSecretsManagerConfiguration.from(environment: nothing) }
        #expect(throws: AWSConfigurationError.missingRegion) {
            try AWSSecretsManagerConfiguration.from(environment: ["AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"])
        }
    }
}
