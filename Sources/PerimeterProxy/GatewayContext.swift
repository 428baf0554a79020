import Hummingbird
import Logging
import NIOCore
import PerimeterCore
import PerimeterStorage

/// Per-request context: Hummingbird's core storage plus the request id every response carries, the
/// client's address, and (on admin routes) who is acting.
package struct GatewayContext: RequestContext, RemoteAddressRequestContext {
    package var coreContext: CoreRequestContextStorage
    package let requestID: String
    package let remoteAddress: SocketAddress?
    package var admin: AdminToken?
    /// The admin was let in by a console session cookie rather than a Bearer token.
    package var viaConsole = false

    package init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        requestID = RequestID.make()
        remoteAddress = source.channel.remoteAddress
        logger[metadataKey: "perimeter.request.id"] = .string(requestID)
    }

    package var clientIP: String? { remoteAddress?.ipAddress }

    /// Bodies are read by the proxy with the gateway's own limit, not Hummingbird's default.
    package var maxUploadSize: Int { .max }
}

/// Request ids: `req_` and 24 base62 characters, unique enough to key the call log.
package enum RequestID {
    package static func make() -> String {
        var generator = BufferedRandomNumberGenerator()
        return "req_" + Base62.random(count: 24, using: &generator)
    }
}
