import Foundation
import PerimeterCore
import Synchronization
import Testing

@testable import PerimeterSecrets

@Suite struct GoogleSecretReferenceTests {
    @Test(
        arguments: [
            ("gcp-sm:projects/my-project/secrets/openai", "my-project", "openai", nil),
            ("gcp-sm:projects/123456789012/secrets/OPENAI_key-2/versions/7", "123456789012", "OPENAI_key-2", "7"),
            ("gcp-sm:projects/my-project/secrets/openai/versions/latest", "my-project", "openai", "latest"),
            ("gcp-sm:projects/my-project/secrets/openai/versions/prod", "my-project", "openai", "prod"),
        ] as [(String, String, String, String?)])
    func parses(_ text: String, project: String, secret: String, version: String?) throws {
        let reference = try SecretReference(parsing: text)
        let location = try #require(reference.googleSecret)
        #expect(location.project == project && location.secret == secret && location.pinnedVersion == version)
        #expect(location.version == version ?? "latest")
        #expect(try SecretReference(parsing: reference.description) == reference)
    }

    @Test(arguments: [
        ("gcp-sm:my-project/openai", "projects/PROJECT/secrets/SECRET"),
        ("gcp-sm:projects/my-project/openai", "projects/PROJECT/secrets/SECRET"),
        ("gcp-sm:projects/my-project/secrets/openai/7", "projects/PROJECT/secrets/SECRET"),
        ("gcp-sm:projects/my-project/secrets/openai/versions", "projects/PROJECT/secrets/SECRET"),
        ("gcp-sm:projects/my-project/secrets/openai/versions/", "the version ''"),
        ("gcp-sm:projects/my-project/secrets//versions/1", "the secret id ''"),
        ("gcp-sm:projects/My-Project/secrets/openai", "the project 'My-Project'"),
        ("gcp-sm:projects/short/secrets/openai", "the project 'short'"),
        ("gcp-sm:projects/my-project-/secrets/openai", "the project 'my-project-'"),
        ("gcp-sm:projects/../secrets/openai", "the project '..'"),
        ("gcp-sm:projects/my-project/secrets/open.ai", "the secret id 'open.ai'"),
        ("gcp-sm:projects/my-project/secrets/\(String(repeating: "a", count: 256))", "1-255"),
        ("gcp-sm:projects/my-project/secrets/openai/versions/0", "the version '0'"),
        ("gcp-sm:projects/my-project/secrets/openai/versions/1:access", "the version '1:access'"),
        ("gcp-sm:projects/my-project/secrets/openai/versions/..", "the version '..'"),
        ("gcp-sm:projects/my-project/secrets/openai?x=1", "the secret id"),
    ])
    func refuses(_ text: String, saying: String) {
        do {
            _ = try SecretReference(parsing: text)
            Issue.record("\(text) must be refused")
        } catch {
            #expect(error.description.contains(saying), "\(error)")
            #expect(error.description.contains("gcp-sm:projects/PROJECT/secrets/SECRET[/versions/VERSION]"), "\(error)")
        }
    }
}

@Suite struct GoogleSecretManagerStoreTests {
    static let value = "sk-from-secret-manager"
    static let tokenAnswer = response(200, #"{"access_token":"ya29.sm-token","expires_in":3599,"token_type":"Bearer"}"#)

    static func access(_ value: String = value, crc: String? = nil, version: Int = 7) -> SecretHTTPResponse {
        let data = Data(value.utf8)
        let checksum = crc ?? String(CRC32.castagnoli.checksum(data))
        return response(
            200,
            #"{"name":"projects/123456789012/secrets/openai/versions/\#(version)","payload":{"data":"\#(data.base64EncodedString())","dataCrc32c":"\#(checksum)"}}"#
        )
    }

    /// A transport whose metadata server answers tokens and `secretManager` everything else.
    static func transport(_ secretManager: @escaping @Sendable (SecretHTTPRequest) throws -> SecretHTTPResponse) -> ScriptedTransport {
        ScriptedTransport { request in
            request.url.path.hasSuffix("/service-accounts/default/token") ? tokenAnswer : try secretManager(request)
        }
    }

    static func store(_ transport: ScriptedTransport, endpoint: URL? = nil) -> GoogleSecretManagerStore {
        GoogleSecretManagerStore(
            credentials: .metadataServer(URL(string: "http://metadata.google.internal")!), transport: transport, endpoint: endpoint)
    }

    @Test func accessesTheLatestVersionChecksItsCRC32CAndReadsItsVersionAndDate() async throws {
        let transport = Self.transport { request in
            request.url.path.hasSuffix(":access")
                ? Self.access(Self.value + "\n")
                : response(200, #"{"name":"x","createTime":"2026-11-02T10:00:00.123456Z","state":"ENABLED"}"#)
        }
        let store = Self.store(transport)
        let reference = try SecretReference(parsing: "gcp-sm:projects/my-project/secrets/openai")
        let fetched = try await store.fetch(reference)
        #expect(fetched.secret.revealed == Self.value)
        #expect(fetched.version == "7")
        #expect(fetched.createdAt == Timestamp.parse("2026-11-02T10:00:00.123456Z"))
        let urls = transport.requests.map(\.url.absoluteString)
        #expect(
            urls == [
                "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token",
                "https://secretmanager.googleapis.com/v1/projects/my-project/secrets/openai/versions/latest:access",
                "https://secretmanager.googleapis.com/v1/projects/123456789012/secrets/openai/versions/7",
            ])
        #expect(transport.requests[0].header("Metadata-Flavor") == "Google")
        #expect(transport.requests[1].header("Authorization") == "Bearer ya29.sm-token")
        // The creation time of a version is read once.
        _ = try await store.fetch(reference)
        #expect(transport.requests.count == 4)
    }

    @Test func aVersionWhoseDateCannotBeReadServesWithoutOne() async throws {
        let transport = Self.transport { request in
            request.url.path.hasSuffix(":access")
                ? Self.access(version: 3)
                : response(403, #"{"error":{"code":403,"message":"Permission denied","status":"PERMISSION_DENIED"}}"#)
        }
        let store = Self.store(transport, endpoint: URL(string: "http://127.0.0.1:9999/")!)
        let fetched = try await store.fetch(try SecretReference(parsing: "gcp-sm:projects/my-project/secrets/openai/versions/3"))
        #expect(fetched.secret.revealed == Self.value && fetched.version == "3" && fetched.createdAt == nil)
        #expect(transport.requests[1].url.absoluteString == "http://127.0.0.1:9999/v1/projects/my-project/secrets/openai/versions/3:access")
        _ = try await store.fetch(try SecretReference(parsing: "gcp-sm:projects/my-project/secrets/openai/versions/3"))
        #expect(transport.requests.count == 4, "a refused date is not asked again")
    }

    @Test func aPayloadThatDoesNotMatchItsChecksumIsRefusedWithoutShowingIt() async throws {
        let reference = try SecretReference(parsing: "gcp-sm:projects/my-project/secrets/openai")
        let right = Int64(CRC32.castagnoli.checksum(Data(Self.value.utf8)))
        for answer in [
            Self.access(crc: String(right ^ 1)), Self.access(crc: "not-a-number"),
            response(
                200,
                #"{"name":"projects/1/secrets/openai/versions/1","payload":{"data":"\#(Data(Self.value.utf8).base64EncodedString())"}}"#),
            response(200, #"{"name":"projects/1/secrets/openai/versions/1","payload":{"data":"%%%","dataCrc32c":"1"}}"#),
            Self.access(""),
        ] {
            let error = await #expect(throws: SecretStoreError.self) {
                try await Self.store(Self.transport { _ in answer }).fetch(reference)
            }
            #expect(error?.isTransient == false)
            #expect(error.map { !"\($0)".contains(Self.value) && !"\($0)".contains(Data(Self.value.utf8).base64EncodedString()) } == true)
        }
        let mismatch = await #expect(throws: SecretStoreError.self) {
            try await Self.store(Self.transport { _ in Self.access(crc: String(right ^ 1)) }).fetch(reference)
        }
        #expect(mismatch.map { "\($0)".contains("CRC32C") } == true)
    }

    @Test func missingDisabledRefusedAndDownAreClearErrorsWithoutTheToken() async throws {
        let reference = try SecretReference(parsing: "gcp-sm:projects/my-project/secrets/openai")
        let cases: [(SecretHTTPResponse, String, Bool)] = [
            (
                response(
                    404,
                    #"{"error":{"code":404,"message":"Secret [projects/1/secrets/openai] not found or has no versions.","status":"NOT_FOUND"}}"#
                ), "has no version latest", false
            ),
            (
                response(
                    400,
                    #"{"error":{"code":400,"message":"Secret Version [projects/1/secrets/openai/versions/2] is in DISABLED state.","status":"FAILED_PRECONDITION"}}"#
                ), "disabled or destroyed", false
            ),
            (response(403, #"{"error":{"code":403,"message":"Permission denied","status":"PERMISSION_DENIED"}}"#), "secretAccessor", false),
            (
                response(503, #"{"error":{"code":503,"message":"The service is currently unavailable.","status":"UNAVAILABLE"}}"#), "503",
                true
            ),
            (response(429, #"{"error":{"code":429,"status":"RESOURCE_EXHAUSTED"}}"#), "RESOURCE_EXHAUSTED", true),
        ]
        for (answer, saying, transient) in cases {
            let error = await #expect(throws: SecretStoreError.self) {
                try await Self.store(Self.transport { _ in answer }).fetch(reference)
            }
            #expect(error.map { "\($0)".contains(saying) && !"\($0)".contains("ya29") } == true, "\(String(describing: error))")
            #expect(error?.isTransient == transient)
        }
        let down = await #expect(throws: SecretStoreError.self) {
            try await Self.store(ScriptedTransport { _ in throw Refused() }).fetch(reference)
        }
        #expect(down?.isTransient == true)
    }

    @Test func a401IsTriedOnceMoreWithANewToken() async throws {
        final class Counter: Sendable { let tokens = Mutex(0) }
        let counter = Counter()
        let transport = ScriptedTransport { request in
            if request.url.path.hasSuffix("/token") {
                let count = counter.tokens.withLock { count in
                    count += 1
                    return count
                }
                return response(200, #"{"access_token":"ya29.t\#(count)","expires_in":3599}"#)
            }
            if request.header("Authorization") == "Bearer ya29.t1" {
                return response(401, #"{"error":{"code":401,"status":"UNAUTHENTICATED"}}"#)
            }
            return request.url.path.hasSuffix(":access") ? Self.access() : response(403, "{}")
        }
        let fetched = try await Self.store(transport).fetch(try SecretReference(parsing: "gcp-sm:projects/my-project/secrets/openai"))
        #expect(fetched.secret.revealed == Self.value)
        #expect(counter.tokens.withLock { $0 } == 2)
    }

    @Test func deliveryAddsAVersionWithItsChecksum() async throws {
        let transport = Self.transport { _ in
            response(
                200, #"{"name":"projects/123456789012/secrets/app-key/versions/4","createTime":"2026-11-02T10:00:00Z","state":"ENABLED"}"#)
        }
        let version = try await Self.store(transport).write(
            Secret("pk-new"), to: try SecretReference(parsing: "gcp-sm:projects/my-project/secrets/app-key"))
        #expect(version == "4")
        let post = try #require(transport.requests.last)
        #expect(post.method == "POST")
        #expect(post.url.absoluteString == "https://secretmanager.googleapis.com/v1/projects/my-project/secrets/app-key:addVersion")
        let payload = try #require(JSONValue.object(post.body)?["payload"] as? [String: Any])
        #expect(payload["data"] as? String == Data("pk-new".utf8).base64EncodedString())
        #expect(payload["dataCrc32c"] as? String == String(CRC32.castagnoli.checksum(Data("pk-new".utf8))))
        await #expect(throws: SecretStoreError.self) {
            _ = try await Self.store(transport).write(
                Secret("x"), to: try SecretReference(parsing: "gcp-sm:projects/my-project/secrets/app-key/versions/4"))
        }
    }
}
