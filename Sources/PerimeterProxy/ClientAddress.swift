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

    private func isTrusted(_ address: String) -> Bool {
        guard let ip = IPAddress(address) else { return false }
        return trustedProxies.contains { $0.contains(ip) }
    }
}
