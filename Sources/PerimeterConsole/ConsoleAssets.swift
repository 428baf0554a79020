import PerimeterCore

/// The console's files, as SwiftPM embedded them (`Assets/`, `.embedInCode`), by the name the page
/// asks for. A test checks that every file of `Assets/` is listed here and nothing else is.
enum ConsoleAssets {
    struct Asset: Sendable {
        let bytes: [UInt8]
        let contentType: String
        /// A strong validator: the first 128 bits of the content's SHA-256.
        let etag: String

        init(_ bytes: [UInt8], _ contentType: String) {
            self.bytes = bytes
            self.contentType = contentType
            etag = "\"" + String(KeyDigest(of: String(decoding: bytes, as: UTF8.self)).hex.prefix(32)) + "\""
        }
    }

    static let javaScript = "text/javascript; charset=utf-8"

    static let files: [String: Asset] = [
        "index.html": Asset(PackageResources.index_html, "text/html; charset=utf-8"),
        "console.css": Asset(PackageResources.console_css, "text/css; charset=utf-8"),
        "favicon.svg": Asset(PackageResources.favicon_svg, "image/svg+xml"),
        "app.js": Asset(PackageResources.app_js, javaScript),
        "api.js": Asset(PackageResources.api_js, javaScript),
        "ui.js": Asset(PackageResources.ui_js, javaScript),
        "chart.js": Asset(PackageResources.chart_js, javaScript),
        "overview.js": Asset(PackageResources.overview_js, javaScript),
        "keys.js": Asset(PackageResources.keys_js, javaScript),
        "key.js": Asset(PackageResources.key_js, javaScript),
        "calls.js": Asset(PackageResources.calls_js, javaScript),
        "alerts.js": Asset(PackageResources.alerts_js, javaScript),
        "inventory.js": Asset(PackageResources.inventory_js, javaScript),
        "audit.js": Asset(PackageResources.audit_js, javaScript),
        "secrets.js": Asset(PackageResources.secrets_js, javaScript),
    ]
}
