import HTTPTypes
import Hummingbird
import NIOCore
import PerimeterProxy

/// `/console/`: the web console's page and its scripts, styles and icon, every byte embedded in the
/// binary at build time. Nothing is fetched from anywhere else, at build time or at run time; the
/// page reads and changes state through the admin API alone, signed in with a session cookie.
package struct ConsoleRoutes: Sendable {
    package init() {}

    /// Scripts, styles and connections from this origin only; no inline script or style, no frames,
    /// no plugins, forms post here only.
    static let contentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

    package func register(on router: Router<GatewayContext>) {
        // `/console` and `/console/` are one route; the page names its files by absolute path.
        let group = router.group("console")
        group.get { request, _ in Self.serve("index.html", request: request) }
        group.get(":file") { request, context in
            let file = try context.parameters.require("file")
            return Self.serve(file, request: request)
        }
    }

    static func serve(_ name: String, request: Request) -> Response {
        var headers = Self.securityHeaders
        guard let asset = ConsoleAssets.files[name] else {
            headers[.contentType] = "text/plain; charset=utf-8"
            return Response(status: .notFound, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "Not found.\n")))
        }
        headers[.eTag] = asset.etag
        // Revalidated on each load, so an upgraded gateway's page is never mixed with old scripts.
        headers[.cacheControl] = "no-cache"
        if request.headers[.ifNoneMatch] == asset.etag {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = asset.contentType
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: asset.bytes)))
    }

    static var securityHeaders: HTTPFields {
        var headers = HTTPFields()
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        headers[HTTPField.Name("x-frame-options")!] = "DENY"
        headers[.xContentTypeOptions] = "nosniff"
        headers[HTTPField.Name("referrer-policy")!] = "no-referrer"
        headers[HTTPField.Name("cross-origin-opener-policy")!] = "same-origin"
        headers[HTTPField.Name("cross-origin-resource-policy")!] = "same-origin"
        headers[HTTPField.Name("permissions-policy")!] = "camera=(), microphone=(), geolocation=(), payment=()"
        return headers
    }
}
