import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PerimeterCore
import PerimeterProviders
import PerimeterSecrets
import PerimeterUpstream
import Synchronization
import Testing

@testable import PerimeterAdmin
@testable import PerimeterAlerts
@testable import PerimeterConfiguration
@testable import PerimeterGateway
@testable import PerimeterProxy
@testable import PerimeterRotation

/// An upstream double in process: records what it was sent and answers as scripted.
final class ScriptedUpstream: Upstream, Sendable {
    struct Answer: Sendable {
        var status = 200
        var contentType = "application/json"
        var chunks: [String] = []
        var error: UpstreamError? = nil
    }

    private let answer: Mutex<Answer>
    let requests = Mutex<[UpstreamRequest]>([])

    init(_ answer: Answer) {
        self.answer = Mutex(answer)
    }

    func send(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse {
        requests.withLock { $0.append(request) }
        let answer = answer.withLock { $0 }
        if let error = answer.error { throw error }
        var headers = HTTPFields()
        headers[.contentType] = answer.contentType
        return UpstreamResponse(
            status: answer.status, headers: headers, body: .buffers(answer.chunks.map { ByteBuffer(string: $0) }))
    }
}

enum TestGateway {
    static let adminToken = "prmadm_test-admin-token"
    static let providerKey = "sk-upstream-provider-key-1234567890"

    static var adminHeaders: HTTPFields { [.authorization: "Bearer \(adminToken)", .contentType: "application/json"] }

    /// A gateway on the memory store with a fixed admin token, and either the demo provider or `upstream`
    /// behind an `openai` and an `anthropic` provider whose key is ``providerKey``.
    static func make(
        demo: Bool = false, upstream: (any Upstream)? = nil, configure: (inout GatewayConfiguration) -> Void = { _ in }
    ) async throws -> some ApplicationProtocol {
        var configuration = GatewayConfiguration()
        configuration.database = .memory
        configuration.adminToken = .literal(Secret(adminToken))
        configuration.demo = demo
        configuration.callLogFlushInterval = .milliseconds(5)
        let reference = SecretReference(scheme: "env", path: "PROVIDER_KEY")
        if upstream != nil {
            configuration.providers = [
                ProviderConfiguration(
                    name: "openai", kind: .openAI, baseURL: "https://api.example/v1", apiKey: reference, models: [ModelPattern("gpt-*")]),
                ProviderConfiguration(
                    name: "anthropic", kind: .anthropic, baseURL: "https://anthropic.example", apiKey: reference,
                    models: [ModelPattern("claude-*")]),
            ]
        }
        configure(&configuration)
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        return try await buildApplication(
            configuration: configuration, logger: logger, environment: [reference.path: providerKey], upstreamOverride: upstream
        ).application
    }

    /// Creates a key through the admin API and returns (id, plaintext).
    static func createKey(_ client: some TestClientProtocol, name: String = "svc", env: String = "dev") async throws -> (String, String) {
        try await client.execute(
            uri: "/admin/v1/keys", method: .post, headers: adminHeaders,
            body: ByteBuffer(string: #"{"name":"\#(name)","env":"\#(env)","owner":"team-a"}"#)
        ) { response in
            #expect(response.status == .created)
            let object = try json(response.body)
            return (try #require(object["id"] as? String), try #require(object["key"] as? String))
        }
    }

    /// The call log's newest records, waiting briefly for the writer's next batch.
    static func calls(_ client: some TestClientProtocol, expecting count: Int) async throws -> [[String: Any]] {
        for _ in 0..<200 {
            let calls = try await client.execute(uri: "/admin/v1/calls", method: .get, headers: adminHeaders) { response in
                try json(response.body)["data"] as? [[String: Any]] ?? []
            }
            if calls.count >= count { return calls }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("the call log did not reach \(count) records")
        return []
    }

    /// `error.code` of an OpenAI-shaped error body.
    static func errorCode(_ buffer: ByteBuffer) throws -> String? {
        (try json(buffer)["error"] as? [String: Any])?["code"] as? String
    }

    static func json(_ buffer: ByteBuffer) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any])
    }
}
