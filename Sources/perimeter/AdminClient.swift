import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PerimeterConfiguration
import PerimeterCore

/// The CLI's connection to a gateway's admin API.
struct AdminClient {
    let baseURL: String
    let token: String?
    /// How long one request may take in all, connecting included.
    var timeout: TimeAmount = .seconds(60)
    /// Connect within 2 s rather than 5 (a scan in a hook must not wait on a gateway that is away).
    var quickConnect = false

    /// One connection attempt, no retries: a gateway that is down is reported at once.
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(60))
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    static let quickClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(2), read: .seconds(60))
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> AdminClient {
        var url = environment["PERIMETER_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? "http://127.0.0.1:8080"
        while url.hasSuffix("/") { url.removeLast() }
        var token = environment["PERIMETER_ADMIN_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        if token == nil {
            let path = GatewayConfiguration.adminTokenFile(home: GatewayConfiguration.defaultHomeDirectory(environment: environment))
            token = FileManager.default.contents(atPath: path).map {
                String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }
        return AdminClient(baseURL: url, token: token)
    }

    /// Sends a request and returns the JSON answer, or throws the gateway's error message.
    func sendRaw(
        _ method: HTTPMethod, _ path: String, query: [(String, String?)] = [], body: (some Encodable)? = Optional<String>.none,
        headers: [(String, String)] = []
    ) async throws -> Data {
        let (status, data) = try await exchange(method, path, query: query, body: body, headers: headers)
        guard (200..<300).contains(status.code) else {
            if let envelope = try? JSONDecoder().decode(ErrorEnvelope.self, from: data) {
                throw CLIError("\(envelope.error.message) (\(status.code) \(envelope.error.code ?? ""))")
            }
            throw CLIError("the gateway answered \(status.code) \(status.reasonPhrase)")
        }
        return data
    }

    /// Sends a request and returns the status and body as they are, whatever the status.
    func exchange(
        _ method: HTTPMethod, _ path: String, query: [(String, String?)] = [], body: (some Encodable)? = Optional<String>.none,
        headers: [(String, String)] = []
    ) async throws -> (HTTPResponseStatus, Data) {
        guard let token, !token.isEmpty else {
            throw CLIError(
                "no admin token: set PERIMETER_ADMIN_TOKEN, or run this on the machine where `perimeter serve` first started")
        }
        var components = URLComponents(string: baseURL + "/admin/v1" + path)
        let items = query.compactMap { name, value in value.map { URLQueryItem(name: name, value: $0) } }
        if !items.isEmpty { components?.queryItems = items }
        guard let url = components?.string else { throw CLIError("PERIMETER_URL '\(baseURL)' is not a URL") }
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            let data = try (body as? JSONObject).map { try $0.data() } ?? JSONEncoder().encode(body)
            request.body = .bytes(ByteBuffer(bytes: data))
        }
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await (quickConnect ? Self.quickClient : Self.client).execute(request, timeout: timeout)
            bytes = try await response.body.collect(upTo: 64 << 20)
        } catch {
            throw CLIError(
                "cannot reach the gateway at \(baseURL): \(Self.reason(error)). Is `perimeter serve` running? Set PERIMETER_URL if it listens elsewhere."
            )
        }
        return (response.status, Data(bytes.readableBytesView))
    }
}

/// A JSON body built from a dictionary, for requests where `null` must be sent explicitly.
struct JSONObject: Encodable {
    var members: [String: Any]

    func data() throws -> Data {
        try JSONSerialization.data(withJSONObject: members, options: [.sortedKeys])
    }

    func encode(to encoder: any Encoder) throws {
        throw EncodingError.invalidValue(members, .init(codingPath: [], debugDescription: "encoded through data()"))
    }
}

private struct ErrorEnvelope: Decodable {
    struct Body: Decodable {
        var message: String
        var code: String?
    }
    var error: Body
}

extension AdminClient {
    static func reason(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("Connection refused") { return "connection refused" }
        if text.contains("deadlineExceeded") || text.contains("connectTimeout") { return "timed out" }
        return text
    }
}

/// A CLI failure: ArgumentParser prints it as one `Error:` line and exits with status 1.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
