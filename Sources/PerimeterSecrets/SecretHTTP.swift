import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PerimeterCore

/// One HTTP exchange with a secrets manager. Small on purpose: the Vault and AWS stores speak through
/// it, and their tests replace it with a scripted double.
public struct SecretHTTPRequest: Sendable {
    public var method: String
    public var url: URL
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(method: String, url: URL, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

public struct SecretHTTPResponse: Sendable {
    public var status: Int
    public var body: [UInt8]

    public init(status: Int, body: [UInt8]) {
        self.status = status
        self.body = body
    }
}

public protocol SecretHTTPTransport: Sendable {
    /// Sends `request`; throws only when no answer came (connection refused, timeout).
    func send(_ request: SecretHTTPRequest) async throws -> SecretHTTPResponse
}

/// The real transport, over AsyncHTTPClient.
public struct AsyncHTTPSecretTransport: SecretHTTPTransport {
    let client: HTTPClient
    let timeout: TimeAmount

    public init(client: HTTPClient, timeout: Duration = .seconds(10)) {
        self.client = client
        self.timeout = .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000)
    }

    public func send(_ request: SecretHTTPRequest) async throws -> SecretHTTPResponse {
        var outgoing = HTTPClientRequest(url: request.url.absoluteString)
        outgoing.method = HTTPMethod(rawValue: request.method)
        for (name, value) in request.headers {
            outgoing.headers.add(name: name, value: value)
        }
        if !request.body.isEmpty {
            outgoing.body = .bytes(ByteBuffer(bytes: request.body))
        }
        let response = try await client.execute(outgoing, timeout: timeout)
        let body = try await response.body.collect(upTo: 1 << 20)
        return SecretHTTPResponse(status: Int(response.status.code), body: Array(body.readableBytesView))
    }
}

extension SecretHTTPTransport {
    /// One JSON call to a cloud's secrets API with a bearer token from `bearer`; a 401 (a token revoked
    /// early, or clocks that disagree) is reported to `refused` and tried once more with a new token.
    /// No answer at all is `unreachable`, a store outage.
    func sendWithBearer(
        _ method: String, _ url: URL, body: [UInt8], bearer: () async throws -> Secret, refused: (Secret) async -> Void,
        unreachable: (any Error) -> SecretStoreError
    ) async throws -> SecretHTTPResponse {
        func attempt(_ token: Secret) async throws -> SecretHTTPResponse {
            var headers: [(name: String, value: String)] = [("Authorization", "Bearer \(token.revealed)"), ("Accept", "application/json")]
            if !body.isEmpty { headers.append(("Content-Type", "application/json")) }
            do {
                return try await send(SecretHTTPRequest(method: method, url: url, headers: headers, body: body))
            } catch {
                throw unreachable(error)
            }
        }
        let token = try await bearer()
        let response = try await attempt(token)
        guard response.status == 401 else { return response }
        await refused(token)
        let renewed = try await bearer()
        if renewed == token { return response }
        return try await attempt(renewed)
    }
}

/// `application/x-www-form-urlencoded` bodies of token requests, every value percent-encoded but the
/// unreserved characters.
enum FormEncoding {
    static func encode(_ pairs: [(String, String)]) -> String {
        pairs.map { "\($0.0)=\(PercentEncoding.encode($0.1))" }.joined(separator: "&")
    }
}

/// A small JSON reader for the stores' answers: a dictionary tree from JSONSerialization.
enum JSONValue {
    static func object(_ bytes: [UInt8]) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any]
    }

    static func encode(_ object: [String: Any]) -> [UInt8] {
        // Only strings and numbers are written here, which always encode.
        [UInt8]((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8))
    }
}
