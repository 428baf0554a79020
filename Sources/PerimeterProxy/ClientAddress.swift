import Foundation
import HTTPTypes
import PerimeterCore

/// Who is calling: the socket's address, or, when that address is a trusted proxy, the first address
/// in `X-Forwarded-For` read from the right that is not itself a trusted proxy.
package struct ClientAddress: Sendable {
    let trustedProxies: [CIDR]

    package init(trustedProxies: [CIDR]) {
        self.trustedProxies = trustedProxies
    }

    package func resolve(socket: String?, headers: HTTPFields) -> String? {
        guard let socket, !trustedProxies.isEmpty, isTrusted(socket) else { return socket }
        let hops = headers[values: HTTPField.Name("x-forwarded-for")!]
            .flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }
        var client = socket
        for hop in hops.reversed() {
            guard IPAddress(hop) != nil else { break }
            client = hop
            if !isTrusted(hop) { break }
        }
        return client
    }

    /// Whether the client reached a trusted proxy over TLS: the socket is a trusted proxy's and its
    /// `X-Forwarded-Proto` (the last one, which that proxy set) is `https`.
    package func cameOverTLS(socket: String?, headers: HTTPFields) -> Bool {
        guard let socket, isTrusted(socket) else { return false }
        let proto = headers[values: HTTPField.Name("x-forwarded-proto")!]
            .flatMap { $0.split(separator: ",") }.last
        return proto.map { $0.trimmingCharacters(in: .whitespaces).lowercased() == "https" } ?? false
    }

    private func isTrusted(_ address: String) -> Bool {
        guard let ip = IPAddress(address) else { return false }
        return trustedProxies.contains { $0.contains(ip) }
    }
}
