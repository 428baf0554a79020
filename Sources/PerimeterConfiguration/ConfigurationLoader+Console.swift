import PerimeterAdminModels
import Yams

extension ConfigurationLoader {
    /// `console: { enabled, session_idle, session_lifetime, secure_cookie }`.
    static func console(_ node: Node, reader: inout NodeReader) throws -> ConsoleSettings {
        let fields = try reader.mapping(node, field: "console", allowed: ["enabled", "session_idle", "session_lifetime", "secure_cookie"])
        var settings = ConsoleSettings()
        if let enabled = fields["enabled"] { settings.enabled = try reader.bool(enabled, field: "console.enabled") }
        if let idle = fields["session_idle"] {
            settings.sessionIdle = try reader.duration(idle, field: "console.session_idle", example: "30m")
            guard (60...86400).contains(settings.sessionIdle) else {
                throw reader.error(idle, "console.session_idle", "must be from 1m to 24h", fix: "write e.g. 30m")
            }
        }
        if let lifetime = fields["session_lifetime"] {
            settings.sessionLifetime = try reader.duration(lifetime, field: "console.session_lifetime", example: "12h")
            guard (300...30 * 86400).contains(settings.sessionLifetime) else {
                throw reader.error(lifetime, "console.session_lifetime", "must be from 5m to 30d", fix: "write e.g. 12h")
            }
        }
        if let secure = fields["secure_cookie"] {
            let text = try reader.string(secure, field: "console.secure_cookie")
            guard let value = ConsoleSettings.SecureCookie(rawValue: text) else {
                throw reader.error(
                    secure, "console.secure_cookie", "'\(text)' is not auto, always or never",
                    fix: "write secure_cookie: always behind a TLS proxy")
            }
            settings.secureCookie = value
        }
        return settings
    }
}
