import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PerimeterAdmin
import PerimeterAlerts
import PerimeterConfiguration
import PerimeterCore
import PerimeterGateway
import PerimeterProviders
import PerimeterProxy
import PerimeterRotation
import PerimeterSecrets
import PerimeterUpstream
import Synchronization

/// An upstream double in process: records what it was sent and answers as scripted.
package final class ScriptedUpstream: Upstream, Sendable {
    package struct Answer: Sendable {
        package var status: Int
        package var contentType: String
        package var chunks: [String]
        package var error: UpstreamError?
        /// A `content-length` to announce (so a JSON answer is read whole), and whether the body breaks
        /// off after `chunks` instead of ending.
        package var contentLength: Int?
        package var breaksOff: Bool

        package init(
            status: Int = 200, contentType: String = "application/json", chunks: [String] = [], error: UpstreamError? = nil,
            contentLength: Int? = nil, breaksOff: Bool = false
        ) {
            self.status = status
            self.contentType = contentType
            self.chunks = chunks
            self.error = error
            self.contentLength = contentLength
            self.breaksOff = breaksOff
        }
    }

    private let answer: Mutex<Answer>
    package let requests = Mutex<[UpstreamRequest]>([])

    package init(_ answer: Answer) {
        self.answer = Mutex(answer)
    }

    package func send(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse {
        requests.withLock { $0.append(request) }
        let answer = answer.withLock { $0 }
        if let error = answer.error { throw error }
        var headers = HTTPFields()
        headers[.contentType] = answer.contentType
        if let length = answer.contentLength { headers[.contentLength] = String(length) }
        return UpstreamResponse(
            status: answer.status, headers: headers,
            body: .buffers(answer.chunks.map { ByteBuffer(string: $0) }, thenFailure: answer.breaksOff ? BrokenBody() : nil))
    }
}

package enum TestGateway {
    package static let adminToken = "prmadm_test-admin-token"
    package static let providerKey = "sk-upstream-provider-key-1234567890"

    package static var adminHeaders: HTTPFields { [.authorization: "Bearer \(adminToken)", .contentType: "application/json"] }

    /// A gateway on the memory store with a fixed admin token, and either the demo provider or `upstream`
    /// behind an `openai` and an `anthropic` provider whose key is ``providerKey``.
    package static func make(
        demo: Bool = false, upstream: (any Upstream)? = nil, configure: (inout GatewayConfiguration) -> Void = { _ in }
    ) async throws -> some ApplicationProtocol {
        try await build(demo: demo, upstream: upstream, configure: configure).application
    }

    /// The whole built gateway (its application, notices and routes).
    package static func build(
        demo: Bool = false, upstream: (any Upstream)? = nil, configure: (inout GatewayConfiguration) -> Void = { _ in }
    ) async throws -> Gateway {
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
            configuration: configuration, logger: logger, environment: [reference.path: providerKey], upstreamOverride: upstream)
    }

    /// Creates a key through the admin API and returns (id, plaintext).
    package static func createKey(_ client: some TestClientProtocol, name: String = "svc", env: String = "dev") async throws -> (
        String, String
    ) {
        try await client.execute(
            uri: "/admin/v1/keys", method: .post, headers: adminHeaders,
            body: ByteBuffer(string: #"{"name":"\#(name)","env":"\#(env)","owner":"team-a"}"#)
        ) { response in
            guard response.status == .created else { throw TestGatewayError("POST /admin/v1/keys answered \(response.status)") }
            let object = try json(response.body)
            guard let id = object["id"] as? String, let key = object["key"] as? String else {
                throw TestGatewayError("POST /admin/v1/keys answered no id and key")
            }
            return (id, key)
        }
    }

    /// The call log's newest records, waiting briefly for the writer's next batch.
    package static func calls(_ client: some TestClientProtocol, expecting count: Int) async throws -> [[String: Any]] {
        for _ in 0..<200 {
            let calls = try await client.execute(uri: "/admin/v1/calls", method: .get, headers: adminHeaders) { response in
                try json(response.body)["data"] as? [[String: Any]] ?? []
            }
            if calls.count >= count { return calls }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TestGatewayError("the call log did not reach \(count) records")
    }

    /// `error.code` of an OpenAI-shaped error body.
    package static func errorCode(_ buffer: ByteBuffer) throws -> String? {
        (try json(buffer)["error"] as? [String: Any])?["code"] as? String
    }

    package static func json(_ buffer: ByteBuffer) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any] else {
            throw TestGatewayError("the body is not a JSON object: \(String(buffer: buffer))")
        }
        return object
    }
}

/// A test gateway's helper did not get what it needed; the test fails with this message.
package struct TestGatewayError: Error, CustomStringConvertible {
    package let description: String

    package init(_ description: String) {
        self.description = description
    }
}

/// The error a scripted body breaks off with.
struct BrokenBody: Error {}
