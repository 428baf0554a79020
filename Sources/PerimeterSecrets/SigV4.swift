import Crypto
import Foundation
import PerimeterCore

/// An AWS access key pair, with the session token that temporary (STS) credentials add.
///
/// The secret and the token are ``Secret``s, so printing or dumping the credentials shows `<redacted>`.
public struct AWSCredentials: Sendable, Hashable {
    public var accessKeyID: String
    public var secretAccessKey: Secret
    public var sessionToken: Secret?

    public init(accessKeyID: String, secretAccessKey: Secret, sessionToken: Secret? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }
}

/// Signs HTTP requests with AWS Signature Version 4, in the `Authorization` header.
///
/// The path and query are signed as the URL will send them (its percent-encoded form). For every service
/// but S3, `.`/`..` segments and repeated slashes are removed and each path segment is URI-encoded once more
/// (so `%3A` is signed as `%253A`), as AWS and its SDKs do. For S3 the path is not normalized and each
/// segment is encoded exactly once.
public struct SigV4Signer: Sendable {
    private let credentials: AWSCredentials
    private let region: String
    private let service: String

    public init(credentials: AWSCredentials, region: String, service: String) {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// Signs a request: returns `headers` plus `X-Amz-Date`, `X-Amz-Security-Token` (when a session token is
    /// set) and `Authorization`.
    ///
    /// `url` is the full URL (scheme, host, optional port, path, optional query). `headers` need not contain
    /// Host: the signer then signs `host` from the URL (with the port when it is not the scheme's default)
    /// but does not return it, as the HTTP client sets Host itself. A Host header in `headers` is signed and
    /// kept instead. Any `Authorization`, `X-Amz-Date` or `X-Amz-Security-Token` in `headers` is replaced.
    /// Hop-by-hop headers and `User-Agent`, which proxies and clients may change, are returned but not signed.
    public func sign(
        method: String, url: URL, headers: [(name: String, value: String)], body: [UInt8], date: Date
    ) -> [(name: String, value: String)] {
        let replaced: Set<String> = ["authorization", "x-amz-date", "x-amz-security-token"]
        var output = headers.filter { !replaced.contains($0.name.lowercased()) }
        output.append((name: "X-Amz-Date", value: Self.amzDate(date)))
        if let token = credentials.sessionToken {
            output.append((name: "X-Amz-Security-Token", value: token.revealed))
        }
        var signed = output.filter { !Self.unsigned.contains($0.name.lowercased()) }
        if !headers.contains(where: { $0.name.lowercased() == "host" }) {
            signed.append((name: "host", value: Self.host(of: url)))
        }
        let canonical = canonicalize(
            method: method, path: url.path(percentEncoded: true), query: url.query(percentEncoded: true) ?? "",
            headers: signed, body: body
        )
        let toSign = stringToSign(canonicalRequest: canonical.request, date: date)
        let value = authorization(stringToSign: toSign, signedHeaders: canonical.signedHeaders, date: date)
        output.append((name: "Authorization", value: value))
        return output
    }

    /// The canonical request text for `headers`, which must be every header to sign (Host and X-Amz-Date
    /// included). `path` and `query` are as sent on the wire, without the `?`.
    func canonicalRequest(
        method: String, path: String, query: String, headers: [(name: String, value: String)], body: [UInt8]
    ) -> String {
        canonicalize(method: method, path: path, query: query, headers: headers, body: body).request
    }

    /// The string to sign: algorithm, request time, credential scope and the hash of the canonical request.
    func stringToSign(canonicalRequest: String, date: Date) -> String {
        let hash = Self.hex(SHA256.hash(data: Array(canonicalRequest.utf8)))
        return "AWS4-HMAC-SHA256\n\(Self.amzDate(date))\n\(scope(date))\n\(hash)"
    }

    /// The `Authorization` header value for a string to sign and its `;`-separated signed header names.
    func authorization(stringToSign: String, signedHeaders: String, date: Date) -> String {
        var key = SymmetricKey(data: Array("AWS4\(credentials.secretAccessKey.revealed)".utf8))
        for part in [String(Self.amzDate(date).prefix(8)), region, service, "aws4_request"] {
            key = SymmetricKey(data: Self.hmac(key, part))
        }
        let signature = Self.hex(Self.hmac(key, stringToSign))
        return "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope(date)), "
            + "SignedHeaders=\(signedHeaders), Signature=\(signature)"
    }

    // MARK: - Canonical form

    /// Headers that are sent but never signed.
    private static let unsigned: Set<String> = [
        "connection", "expect", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "user-agent",
        "x-amzn-trace-id",
    ]

    private func canonicalize(
        method: String, path: String, query: String, headers: [(name: String, value: String)], body: [UInt8]
    ) -> (request: String, signedHeaders: String) {
        // Values of a repeated header join with "," in the order given; names sort.
        var values: [String: [String]] = [:]
        for header in headers {
            let value = header.value.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            values[header.name.lowercased(), default: []].append(value)
        }
        let names = values.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(values[$0, default: []].joined(separator: ","))\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        let request = [
            method, canonicalURI(path), Self.canonicalQuery(query), canonicalHeaders, signedHeaders,
            Self.hex(SHA256.hash(data: body)),
        ].joined(separator: "\n")
        return (request, signedHeaders)
    }

    private func canonicalURI(_ path: String) -> String {
        if service == "s3" {
            let segments = path.split(separator: "/", omittingEmptySubsequences: false)
            let encoded = segments.map { Self.uriEncode(Self.percentDecode($0)) }.joined(separator: "/")
            return encoded.isEmpty ? "/" : encoded
        }
        var segments: [Substring] = []
        for segment in path.split(separator: "/") {
            switch segment {
            case ".": continue
            case "..": _ = segments.popLast()
            default: segments.append(segment)
            }
        }
        if segments.isEmpty { return "/" }
        let encoded = segments.map { Self.uriEncode($0.utf8) }.joined(separator: "/")
        return "/" + encoded + (path.hasSuffix("/") ? "/" : "")
    }

    /// Pairs sorted by encoded name, then encoded value; a name without a value gets an empty one.
    private static func canonicalQuery(_ query: String) -> String {
        let pairs = query.split(separator: "&").map { pair -> (name: String, value: String) in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let value = parts.count > 1 ? uriEncode(percentDecode(parts[1])) : ""
            return (uriEncode(percentDecode(parts[0])), value)
        }
        return pairs.sorted { $0.name == $1.name ? $0.value < $1.value : $0.name < $1.name }
            .map { "\($0.name)=\($0.value)" }
            .joined(separator: "&")
    }

    private func scope(_ date: Date) -> String {
        "\(Self.amzDate(date).prefix(8))/\(region)/\(service)/aws4_request"
    }

    /// `host` or `host:port`, the port only when it is not the scheme's default.
    private static func host(of url: URL) -> String {
        var host = url.host(percentEncoded: true) ?? ""
        if host.contains(":") { host = "[\(host)]" }
        guard let port = url.port else { return host }
        let defaultPort =
            switch url.scheme?.lowercased() {
            case "http": 80
            case "https": 443
            default: -1
            }
        return port == defaultPort ? host : "\(host):\(port)"
    }

    /// `yyyyMMdd'T'HHmmss'Z'` in UTC.
    private static func amzDate(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .gmt
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func pad(_ number: Int?, _ width: Int) -> String {
            let digits = String(number ?? 0)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return pad(parts.year, 4) + pad(parts.month, 2) + pad(parts.day, 2) + "T"
            + pad(parts.hour, 2) + pad(parts.minute, 2) + pad(parts.second, 2) + "Z"
    }

    // MARK: - Bytes

    private static let hexDigits = Array("0123456789abcdef".utf8)
    private static let upperHexDigits = Array("0123456789ABCDEF".utf8)

    /// RFC 3986 percent-encoding: everything but `A-Z a-z 0-9 - . _ ~`, with uppercase hex.
    private static func uriEncode(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.append(byte)
            default:
                out += [UInt8(ascii: "%"), upperHexDigits[Int(byte >> 4)], upperHexDigits[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes `%XX` escapes; anything else, a malformed escape included, is kept as is.
    private static func percentDecode(_ text: Substring) -> [UInt8] {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
                let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
            {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    private static func hex(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        for byte in bytes {
            out += [hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0F)]]
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hmac(_ key: SymmetricKey, _ message: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(message.utf8), using: key))
    }
}
