import Foundation
import PerimeterCore
import Synchronization
import Testing

@testable import PerimeterSecrets

@Suite struct AzureKeyVaultReferenceTests {
    static let version = "4387e9f3d6e14c459867679a90fd0f79"

    @Test(
        arguments: [
            ("azure-kv:my-vault/openai", "my-vault.vault.azure.net", "openai", nil),
            ("azure-kv:my-vault/openai-key/\(version)", "my-vault.vault.azure.net", "openai-key", version),
            ("https://my-vault.vault.azure.net/secrets/openai", "my-vault.vault.azure.net", "openai", nil),
            ("https://My-Vault.vault.azure.net/secrets/openai/\(version)", "my-vault.vault.azure.net", "openai", version),
            ("https://kv1.vault.azure.cn/secrets/openai", "kv1.vault.azure.cn", "openai", nil),
            ("azure-kv:kv1.vault.usgovcloudapi.net/openai", "kv1.vault.usgovcloudapi.net", "openai", nil),
        ] as [(String, String, String, String?)])
    func parses(_ text: String, host: String, name: String, version: String?) throws {
        let reference = try SecretReference(parsing: text)
        #expect(reference.scheme == "azure-kv")
        let location = try #require(reference.azureKeyVault)
        #expect(location.vaultHost == host && location.name == name && location.version == version)
        // What is kept reads back as the same reference.
        #expect(try SecretReference(parsing: reference.description) == reference)
    }

    @Test func theURLOfThePublicCloudIsKeptAsTheShortForm() throws {
        #expect(try SecretReference(parsing: "https://my-vault.vault.azure.net/secrets/openai").description == "azure-kv:my-vault/openai")
        #expect(try SecretReference(parsing: "https://kv1.vault.azure.cn/secrets/a").description == "azure-kv:kv1.vault.azure.cn/a")
    }

    @Test(arguments: [
        ("azure-kv:ab/openai", "the vault name 'ab'"),
        ("azure-kv:a-very-long-vault-name-1234/openai", "3-24"),
        ("azure-kv:1vault/openai", "start with a letter"),
        ("azure-kv:vault-/openai", "end with a letter or digit"),
        ("azure-kv:my_vault/openai", "letters, digits and '-'"),
        ("azure-kv:my-vault/open_ai", "the secret name 'open_ai'"),
        ("azure-kv:my-vault/\(String(repeating: "a", count: 128))", "1-127"),
        ("azure-kv:my-vault/openai/v1", "the version 'v1' must be 32 hex digits"),
        ("azure-kv:my-vault", "a vault, a secret name"),
        ("azure-kv:my-vault/a/\(version)/x", "a vault, a secret name"),
        ("azure-kv:my-vault.example.com/a", "not a Key Vault domain"),
        ("https://my-vault.vault.example.com/secrets/a", "not a Key Vault domain"),
        ("https://my-vault.vault.azure.net/keys/a", "https://VAULT.vault.azure.net/secrets/SECRET"),
        ("https://my-vault.vault.azure.net/secrets/a?api-version=7.4", "https://VAULT.vault.azure.net/secrets/SECRET"),
        ("https://my-vault.vault.azure.net:8443/secrets/a", "https://VAULT.vault.azure.net/secrets/SECRET"),
    ])
    func refuses(_ text: String, saying: String) {
        do {
            _ = try SecretReference(parsing: text)
            Issue.record("\(text) must be refused")
        } catch {
            #expect(error.description.contains(saying), "\(error)")
        }
    }
}

@Suite struct AzureKeyVaultStoreTests {
    static let version = AzureKeyVaultReferenceTests.version
    static let bundle = #"""
        {"value":"sk-from-key-vault","id":"https://my-vault.vault.azure.net/secrets/openai/\#(version)",
         "attributes":{"enabled":true,"created":1780000000,"updated":1780000100,"recoveryLevel":"Recoverable+Purgeable"},"tags":{}}
        """#
    static let tokenAnswer = response(200, #"{"token_type":"Bearer","expires_in":3599,"access_token":"kv-token"}"#)

    /// A transport that answers token requests itself and everything else with `vault`.
    static func transport(_ vault: @escaping @Sendable (SecretHTTPRequest) throws -> SecretHTTPResponse) -> ScriptedTransport {
        ScriptedTransport { request in
            request.url.path.hasSuffix("/token") ? tokenAnswer : try vault(request)
        }
    }

    static func store(_ transport: ScriptedTransport, endpoint: URL? = nil) -> AzureKeyVaultStore {
        let grant = EntraGrant.clientSecret(
            tokenURL: EntraGrant.tokenURL(authority: EntraGrant.defaultAuthority, tenantID: "contoso"), clientID: "app-1",
            secret: SecretReference(scheme: "env", path: "AZ_SECRET"),
            resolver: SecretResolver(stores: ["env": EnvironmentSecretStore(environment: ["AZ_SECRET": "cl1ent&secret"])]))
        return AzureKeyVaultStore(
            tokens: EntraClientCredentials(grant: grant, scope: AzureKeyVaultStore.scope, transport: transport), transport: transport,
            endpoint: endpoint)
    }

    @Test func getsTheLatestVersionWithItsVersionAndCreationDate() async throws {
        let transport = Self.transport { _ in response(200, Self.bundle) }
        let fetched = try await Self.store(transport).fetch(try SecretReference(parsing: "azure-kv:my-vault/openai"))
        #expect(fetched.secret.revealed == "sk-from-key-vault")
        #expect(fetched.version == Self.version)
        #expect(
            fetched.createdAt == Date(timeIntervalSince1970: 1_780_000_000)
                && fetched.updatedAt == Date(timeIntervalSince1970: 1_780_000_100))
        let get = try #require(transport.requests.last)
        #expect(get.method == "GET")
        #expect(get.url.absoluteString == "https://my-vault.vault.azure.net/secrets/openai?api-version=7.4")
        #expect(get.header("Authorization") == "Bearer kv-token")
    }

    @Test func aPinnedVersionAndAnEndpointOverrideAreInTheURL() async throws {
        let transport = Self.transport { _ in response(200, Self.bundle) }
        let store = Self.store(transport, endpoint: URL(string: "http://127.0.0.1:9999/")!)
        _ = try await store.fetch(try SecretReference(parsing: "azure-kv:my-vault/openai/\(Self.version)"))
        #expect(transport.requests.last?.url.absoluteString == "http://127.0.0.1:9999/secrets/openai/\(Self.version)?api-version=7.4")
    }

    @Test func disabledMissingAndRefusedAreClearErrorsWithoutTheValue() async throws {
        let reference = try SecretReference(parsing: "azure-kv:my-vault/openai")
        let disabledBundle = Self.bundle.replacingOccurrences(of: #""enabled":true"#, with: #""enabled":false"#)
        let cases: [(SecretHTTPResponse, String, Bool)] = [
            (response(200, disabledBundle), "disabled", false),
            (
                response(
                    403,
                    #"{"error":{"code":"Forbidden","message":"Operation get is not allowed on a disabled secret.","innererror":{"code":"SecretDisabled"}}}"#
                ),
                "disabled", false
            ),
            (
                response(
                    404, #"{"error":{"code":"SecretNotFound","message":"A secret with (name/id) openai was not found in this key vault."}}"#
                ), "has no secret 'openai'", false
            ),
            (
                response(
                    403, #"{"error":{"code":"Forbidden","message":"Caller is not authorized","innererror":{"code":"ForbiddenByRbac"}}}"#),
                "Key Vault Secrets User", false
            ),
            (response(401, #"{"error":{"code":"Unauthorized","message":"AKV10022: Invalid audience."}}"#), "AKV10022", false),
            (response(503, "{}"), "503", true),
            (response(429, #"{"error":{"code":"Throttled"}}"#), "Throttled", true),
        ]
        for (answer, saying, transient) in cases {
            let store = Self.store(Self.transport { _ in answer })
            do {
                _ = try await store.fetch(reference)
                Issue.record("\(saying) must throw")
            } catch let error as SecretStoreError {
                #expect(error.description.contains(saying), "\(error)")
                #expect(error.isTransient == transient, "\(error)")
                #expect(!error.description.contains("sk-from-key-vault") && !error.description.contains("kv-token"))
                if saying.hasPrefix("has no secret") {
                    guard case .notFound = error else { Issue.record("404 must be notFound"); continue }
                }
            }
        }
    }

    @Test func a401IsTriedOnceMoreWithANewToken() async throws {
        final class Counter: Sendable { let gets = Mutex(0) }
        let counter = Counter()
        let transport = ScriptedTransport { request in
            if request.url.path.hasSuffix("/token") {
                let count = counter.gets.withLock { $0 }
                return response(200, #"{"expires_in":3599,"access_token":"kv-token-\#(count)"}"#)
            }
            let count = counter.gets.withLock { count in
                count += 1
                return count
            }
            return count == 1 ? response(401, #"{"error":{"code":"Unauthorized"}}"#) : response(200, Self.bundle)
        }
        let fetched = try await Self.store(transport).fetch(try SecretReference(parsing: "azure-kv:my-vault/openai"))
        #expect(fetched.secret.revealed == "sk-from-key-vault")
        #expect(transport.requests.filter { $0.url.path.hasSuffix("/token") }.count == 2)
        #expect(transport.requests.last?.header("Authorization") == "Bearer kv-token-1")
    }

    @Test func entraDownIsTransientAndARefusalIsNot() async throws {
        let reference = try SecretReference(parsing: "azure-kv:my-vault/openai")
        for (status, transient) in [(503, true), (400, false)] {
            let transport = ScriptedTransport { _ in
                response(status, #"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#)
            }
            let error = await #expect(throws: SecretStoreError.self) { try await Self.store(transport).fetch(reference) }
            #expect(error?.isTransient == transient)
            #expect(error.map { !"\($0)".contains("cl1ent") && "\($0)".contains("AADSTS7000215") } == true)
        }
        let down = ScriptedTransport { _ in throw Refused() }
        let error = await #expect(throws: SecretStoreError.self) { try await Self.store(down).fetch(reference) }
        #expect(error?.isTransient == true)
    }

    @Test func deliverySetsANewVersion() async throws {
        let transport = Self.transport { _ in response(200, Self.bundle) }
        let version = try await Self.store(transport).write(Secret("pk-new"), to: try SecretReference(parsing: "azure-kv:my-vault/openai"))
        #expect(version == Self.version)
        let put = try #require(transport.requests.last)
        #expect(put.method == "PUT")
        #expect(put.url.absoluteString == "https://my-vault.vault.azure.net/secrets/openai?api-version=7.4")
        #expect(JSONValue.object(put.body)?["value"] as? String == "pk-new")
        await #expect(throws: SecretStoreError.self) {
            _ = try await Self.store(transport).write(
                Secret("x"), to: try SecretReference(parsing: "azure-kv:my-vault/openai/\(Self.version)"))
        }
    }
}
