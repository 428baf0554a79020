import Foundation
import PerimeterCore

/// The admin API's rules for text fields: each is declared in the OpenAPI document from these values
/// and checked by the server with the same values, so what the document calls valid is accepted and
/// what it calls invalid is refused.
package enum AdminContract {
    /// `env`: the environment part of a virtual key.
    package static let environment = TextPattern("^[a-z0-9][a-z0-9-]{0,23}$")
    /// A model pattern in `limits.models` (`*` is a wildcard).
    package static let modelPattern = TextPattern("^[A-Za-z0-9._:/*@-]{1,200}$")
    /// An IPv4 or IPv6 address, optionally with a prefix length, in `limits.allowed_ips`.
    package static let cidr = TextPattern("^(\(ipv4)(/(3[0-2]|[12][0-9]|[0-9]))?|\(ipv6)(/(12[0-8]|1[01][0-9]|[1-9][0-9]|[0-9]))?)$")
    /// A secret of the built-in store: 1 to 128 letters, digits, `.`, `_`, `-`; not `.`, `..` or
    /// `reload` (the path of `POST /secrets/reload`). The six-character alternatives spell "any six
    /// such characters but `reload`".
    package static let secretName = TextPattern("^(" + secretNameBody + ")$")
    static let secretNameBody =
        "([A-Za-z0-9_-][A-Za-z0-9._-]{0,4}|[A-Za-z0-9_-][A-Za-z0-9._-]{6,127}"
        + "|[A-Za-qs-z0-9_-][A-Za-z0-9._-]{5}|r[A-Za-df-z0-9._-][A-Za-z0-9._-]{4}|re[A-Za-km-z0-9._-][A-Za-z0-9._-]{3}"
        + "|rel[A-Za-np-z0-9._-][A-Za-z0-9._-]{2}|relo[A-Zb-z0-9._-][A-Za-z0-9._-]|reloa[A-Za-ce-z0-9._-]"
        + "|\\.[A-Za-z0-9_-][A-Za-z0-9._-]{0,126}|\\.\\.[A-Za-z0-9._-]{1,126})"
    /// `rotation.deliver_to`: a built-in store secret, or a file, Vault, AWS or Azure Key Vault target (which the
    /// gateway may not be set up for: then 409).
    package static let deliveryTarget = TextPattern(
        "^(store:" + secretNameBody + "|(file:/|vault:|aws-sm:|azure-kv:|gcp-sm:)[^\\x00-\\x1f\\x7f]+)$")
    /// `since`: a whole number of seconds, minutes, hours, days or weeks back from now.
    package static let window = TextPattern("^[0-9]{1,18}[smhdw]$")
    /// `rotation.every`: 1 second to 100 years.
    package static let rotationEvery = TextPattern(duration(minimumSeconds: 1, maximumSeconds: Int(TimeWindow.maximumSeconds)))
    /// `rotation.grace` on a schedule: 0 seconds to 100 years.
    package static let scheduleGrace = TextPattern(duration(minimumSeconds: 0, maximumSeconds: Int(TimeWindow.maximumSeconds)))
    /// `grace` of a rotation now: 0 seconds to 30 days.
    package static let rotationGrace = TextPattern(duration(minimumSeconds: 0, maximumSeconds: maximumRotationGraceSeconds))
    package static let maximumRotationGraceSeconds = 30 * 86400
    /// `salt` of a fingerprint request: 32 bytes as hex.
    package static let salt = TextPattern("^[0-9A-Fa-f]{64}$")
    /// A finding's `rule`.
    package static let ruleID = TextPattern("^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
    /// A finding's `commit`.
    package static let commit = TextPattern("^[0-9a-f]{7,64}$")
    /// A finding's `sha256`.
    package static let sha256 = TextPattern("^[0-9a-f]{64}$")
    /// A provider name in `limits.providers`: the rule the configuration applies to `providers[].name`
    /// (`PlainName` with `-` and `_`, at most 64 characters).
    package static let providerName = TextPattern("^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
    /// A virtual key's id.
    package static let keyID = TextPattern("^key_[0-9A-Za-z]{16}$")

    /// A secret value is not blank: it has a character outside Unicode's white space as Foundation's
    /// `whitespacesAndNewlines` reads it (the built-in store refuses a value with none).
    package static let notBlank =
        "[^\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"

    /// Control characters (C0, DEL, C1): never in a name, an owner or a provider label, so no
    /// terminal or log line shows something other than what was stored.
    package static let controlCharacter = "[\\x00-\\x1f\\x7f-\\x9f]"

    static let ipv4Octet = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
    static let ipv4 = "(\(ipv4Octet)\\.){3}\(ipv4Octet)"
    static let hextet = "[0-9A-Fa-f]{1,4}"
    /// RFC 4291 text forms without an embedded IPv4 address or a zone.
    static let ipv6 =
        "((\(hextet):){7}\(hextet)|(\(hextet):){1,7}:|(\(hextet):){1,6}:\(hextet)|(\(hextet):){1,5}(:\(hextet)){1,2}"
        + "|(\(hextet):){1,4}(:\(hextet)){1,3}|(\(hextet):){1,3}(:\(hextet)){1,4}|(\(hextet):){1,2}(:\(hextet)){1,5}"
        + "|\(hextet):(:\(hextet)){1,6}|:((:\(hextet)){1,7}|:))"

    /// A duration of `minimumSeconds...maximumSeconds` in one unit: `90s`, `15m`, `24h`, `30d`, `4w`.
    static func duration(minimumSeconds: Int, maximumSeconds: Int) -> String {
        let units = [("s", 1), ("m", 60), ("h", 3600), ("d", 86400), ("w", 7 * 86400)]
        let alternatives = units.map { unit, size in
            TextPattern.wholeNumber(minimumSeconds > 0 ? 1 : 0, maximumSeconds / size) + unit
        }
        return "^(" + alternatives.joined(separator: "|") + ")$"
    }

    /// A label such as a key's or an admin token's name: `maximum` characters at most (Unicode scalars,
    /// as JSON Schema counts), no control characters, not only spaces. Leading and trailing spaces are
    /// dropped.
    package static func label(_ text: String, field: String, maximum: Int) throws(GatewayError) -> String {
        let trimmed = text.trimmingCharacters(in: CharacterSet(charactersIn: " "))
        guard !trimmed.isEmpty, text.unicodeScalars.count <= maximum, !hasControlCharacter(text) else {
            throw .invalidRequest("'\(field)' must be 1 to \(maximum) characters, not only spaces, without control characters.")
        }
        return trimmed
    }

    /// An optional label that may be empty (then absent): an owner.
    package static func optionalLabel(_ text: String?, field: String, maximum: Int) throws(GatewayError) -> String? {
        guard let text else { return nil }
        guard text.unicodeScalars.count <= maximum, !hasControlCharacter(text) else {
            throw .invalidRequest("'\(field)' must be at most \(maximum) characters, without control characters.")
        }
        let trimmed = text.trimmingCharacters(in: CharacterSet(charactersIn: " "))
        return trimmed.isEmpty ? nil : trimmed
    }

    package static func hasControlCharacter(_ text: String) -> Bool {
        text.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }
    }

    /// `since`: a window such as `15m` or `30d` back from `now` (windows past 100 years reach back
    /// 100 years), or an RFC 3339 time.
    package static func since(_ text: String, parameter: String = "since", now: Date = Date()) throws(GatewayError) -> Date {
        if window.matches(text), let amount = Double(text.dropLast()), let unit = text.last {
            let size: Double = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400][unit] ?? 1
            return now.addingTimeInterval(-min(amount * size, TimeWindow.maximumSeconds))
        }
        if let date = Timestamp.parse(text) { return date }
        throw .invalidRequest("'\(parameter)' must be a duration such as 15m, 1h, 30d, or an RFC 3339 time such as 2026-12-01T00:00:00Z.")
    }

    /// Every pattern above, for the test that compiles each.
    package static let all: [TextPattern] = [
        environment, modelPattern, cidr, secretName, deliveryTarget, window, rotationEvery, scheduleGrace, rotationGrace, salt, ruleID,
        commit,
        sha256, keyID, providerName,
    ]
}
