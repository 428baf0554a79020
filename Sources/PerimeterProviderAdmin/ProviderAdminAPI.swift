import Foundation
import PerimeterCore
import PerimeterSecrets

/// A provider's own administration API, reached with its admin credential: its key list, its usage
/// report, and deactivating a key. One conformer per vendor; tests give them a scripted transport.
public protocol ProviderAdminAPI: Sendable {
    /// Every key the organization has, all pages, as `ProviderKey`s of `provider`.
    func listKeys() async throws -> [ProviderKey]
    /// Hourly usage from `start` to `end` (whole hours), per provider key id where the report has one.
    func usage(from start: Date, to end: Date) async throws -> [ProviderUsageBucket]
    /// Deactivates `key` at the provider (Anthropic: status inactive; OpenAI: the project key deleted).
    func disable(_ key: ProviderKey) async throws
}

/// Why an admin API call failed, in words an operator can act on; never a secret.
public enum ProviderAdminError: Error, Equatable, CustomStringConvertible {
    /// The provider turned the admin credential away (401 or 403).
    case refused(status: Int, message: String)
    /// No answer (connection refused, timeout).
    case unreachable(String)
    /// An answer the wire format does not allow, or another error status.
    case failed(String)

    public var description: String {
        switch self {
        case .refused(let status, let message): "the provider refused the admin credential (\(status)): \(message)"
        case .unreachable(let reason): "the provider's admin API did not answer: \(reason)"
        case .failed(let reason): reason
        }
    }

    /// `refused`, `unreachable` or `error`, as a snapshot's status says it.
    public var status: String {
        switch self {
        case .refused: "refused"
        case .unreachable: "unreachable"
        case .failed: "error"
        }
    }
}

/// The HTTP side both vendors share: JSON requests over a ``SecretHTTPTransport``, error bodies read
/// into ``ProviderAdminError`` (OpenAI's `{"error": {"message"}}`, Anthropic's `{"type": "error",
/// "error": {"message"}}`), and at most `maxPages` pages per listing so a looping cursor cannot hang a sync.
struct AdminHTTP: Sendable {
    let transport: any SecretHTTPTransport
    let baseURL: String
    let headers: @Sendable () async throws -> [(name: String, value: String)]
    static let maxPages = 1000

    func json(_ method: String, _ path: String, query: [(String, String)] = [], body: [String: Any]? = nil) async throws
        -> [String: Any]
    {
        var components = URLComponents(string: baseURL + path)
        if !query.isEmpty {
            components?.percentEncodedQueryItems = query.map {
                URLQueryItem(name: Self.encode($0.0), value: Self.encode($0.1))
            }
        }
        guard let url = components?.url else { throw ProviderAdminError.failed("bad admin API URL for \(path)") }
        var requestHeaders = try await headers()
        requestHeaders.append((name: "accept", value: "application/json"))
        var bytes: [UInt8] = []
        if let body {
            requestHeaders.append((name: "content-type", value: "application/json"))
            bytes = Array(try JSONSerialization.data(withJSONObject: body))
        }
        let response: SecretHTTPResponse
        do {
            response = try await transport.send(SecretHTTPRequest(method: method, url: url, headers: requestHeaders, body: bytes))
        } catch {
            throw ProviderAdminError.unreachable(String(describing: error).prefix(200).description)
        }
        let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any]
        guard (200..<300).contains(response.status) else {
            let error = object?["error"] as? [String: Any]
            let message = Display.clip((error?["message"] as? String) ?? "HTTP \(response.status)")
            if response.status == 401 || response.status == 403 {
                throw ProviderAdminError.refused(status: response.status, message: message)
            }
            throw ProviderAdminError.failed("\(method) \(path) answered \(response.status): \(message)")
        }
        guard let object else { throw ProviderAdminError.failed("\(method) \(path) answered something other than a JSON object") }
        return object
    }

    /// RFC 3986 encoding (`[` and `]` of `group_by[]` included).
    static func encode(_ text: String) -> String { PercentEncoding.encode(text) }
}

/// Reading the fields of a JSON object strictly enough that a malformed answer is an error, not a crash.
enum Field {
    static func string(_ object: [String: Any], _ name: String) -> String? { object[name] as? String }

    static func int(_ object: [String: Any], _ name: String) -> Int? {
        guard let value = (object[name] as? Int).map(Double.init) ?? (object[name] as? Double) else { return nil }
        guard value.isFinite, value >= 0, value < 1e15 else { return nil }
        return Int(value)
    }

    static func date(seconds object: [String: Any], _ name: String) -> Date? {
        int(object, name).map { Date(timeIntervalSince1970: Double($0)) }
    }

    static func date(rfc3339 object: [String: Any], _ name: String) -> Date? {
        string(object, name).flatMap(Timestamp.parse)
    }

    /// An object's `id`, which later goes into a path (a project's keys, a key to disable): a plain
    /// name, or the answer is refused.
    static func id(_ object: [String: Any], in path: String) throws -> String {
        guard let id = string(object, "id"), PlainName.isValid(id, punctuation: "-_", maxLength: 200) else {
            throw ProviderAdminError.failed("\(path): an entry without a plain 'id' in the answer")
        }
        return id
    }

    static func objects(_ object: [String: Any], _ name: String, in path: String) throws -> [[String: Any]] {
        guard let list = object[name] as? [Any] else { throw ProviderAdminError.failed("\(path): no '\(name)' list in the answer") }
        return list.compactMap { $0 as? [String: Any] }
    }
}

/// A short, printable form of text from a provider (an error message), for logs and the inventory.
enum Display {
    static func clip(_ text: String) -> String {
        String(String(text.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : Character($0) }).prefix(300))
    }
}
