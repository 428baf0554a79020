/// Scheme, host and port of an upstream URL, and the CA trusted for it: what a pooled connection can
/// be reused for.
struct UpstreamOrigin: Hashable, Sendable {
    let tls: Bool
    let host: String
    let port: Int
    /// PEM file of the CA trusted instead of the system's roots.
    var caFile: String?

    init(tls: Bool, host: String, port: Int, caFile: String? = nil) {
        self.tls = tls
        self.host = host
        self.port = port
        self.caFile = caFile
    }

    /// `host` or `host:port` as the `Host` header carries it (the default port left out).
    var hostHeader: String {
        let bracketed = host.contains(":") ? "[\(host)]" : host
        return port == (tls ? 443 : 80) ? bracketed : "\(bracketed):\(port)"
    }

    /// Splits `http(s)://host[:port][/path][?query]` into its origin and the request target. IPv6 hosts
    /// are written in brackets. Anything else (user info, another scheme, a bad port) is refused.
    static func parse(_ url: String) -> (origin: UpstreamOrigin, target: String)? {
        let tls: Bool
        var rest: Substring
        if url.hasPrefix("https://") {
            (tls, rest) = (true, url.dropFirst(8))
        } else if url.hasPrefix("http://") {
            (tls, rest) = (false, url.dropFirst(7))
        } else {
            return nil
        }
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        rest = rest[authorityEnd...]
        guard !authority.isEmpty, !authority.contains("@") else { return nil }

        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return nil }
                portText = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        guard !host.isEmpty else { return nil }
        var port = tls ? 443 : 80
        if let portText {
            guard let parsed = Int(portText), (1...65535).contains(parsed) else { return nil }
            port = parsed
        }
        let target = rest.isEmpty ? "/" : (rest.hasPrefix("?") ? "/" + rest : String(rest))
        return (UpstreamOrigin(tls: tls, host: String(host), port: port), target)
    }
}
