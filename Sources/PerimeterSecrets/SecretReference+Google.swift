/// `gcp-sm:projects/PROJECT/secrets/SECRET[/versions/VERSION]`: a secret version of Google Cloud's
/// Secret Manager, written as its resource name; without a version, `latest`.
extension SecretReference {
    /// What a `gcp-sm:` reference points to.
    public struct GoogleSecret: Sendable, Hashable {
        /// A project id (`my-project`) or number (`123456789012`).
        public var project: String
        public var secret: String
        /// A version number or alias as written; nil when the reference names none.
        public var pinnedVersion: String?

        /// The version read: the pinned one, or `latest`.
        public var version: String { pinnedVersion ?? "latest" }
        /// `projects/P/secrets/S`, the secret's resource name.
        public var secretName: String { "projects/\(project)/secrets/\(secret)" }
    }

    /// The project, secret and version of a `gcp-sm:` reference; nil for any other scheme.
    public var googleSecret: GoogleSecret? {
        guard scheme == "gcp-sm" else { return nil }
        return try? Self.googleSecret(path)
    }

    /// Parses `projects/P/secrets/S[/versions/V]`, throwing what is wrong.
    static func googleSecret(_ path: String) throws(GoogleSecretNameError) -> GoogleSecret {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4 || parts.count == 6, parts[0] == "projects", parts[2] == "secrets",
            parts.count == 4 || parts[4] == "versions"
        else { throw .shape }
        guard isValidGoogleProject(parts[1]) else { throw .project(parts[1]) }
        guard isValidGoogleSecretID(parts[3]) else { throw .secret(parts[3]) }
        let version = parts.count == 6 ? parts[5] : nil
        if let version, !isValidGoogleSecretVersion(version) { throw .version(version) }
        return GoogleSecret(project: parts[1], secret: parts[3], pinnedVersion: version)
    }

    /// A project id (6-30 lowercase letters, digits and '-', starting with a letter, not ending with
    /// '-') or a project number.
    public static func isValidGoogleProject(_ text: String) -> Bool {
        if !text.isEmpty, text.count <= 20, text.allSatisfy(\.isASCIIDigit), text.first != "0" { return true }
        return (6...30).contains(text.count) && text.first?.isLowercaseASCIILetter == true && text.last != "-"
            && text.allSatisfy { $0.isLowercaseASCIILetter || $0.isASCIIDigit || $0 == "-" }
    }

    /// Secret Manager's rule for secret ids: 1-255 letters, digits, '-' and '_'.
    public static func isValidGoogleSecretID(_ text: String) -> Bool {
        (1...255).contains(text.count) && text.allSatisfy { ($0.isASCII && $0.isLetter) || $0.isASCIIDigit || $0 == "-" || $0 == "_" }
    }

    /// `latest`, a version number (from 1), or an alias (a letter, then up to 62 letters, digits, '-' and '_').
    public static func isValidGoogleSecretVersion(_ text: String) -> Bool {
        if text.allSatisfy(\.isASCIIDigit) { return !text.isEmpty && text.count <= 19 && text.first != "0" }
        return (1...63).contains(text.count) && text.first?.isASCII == true && text.first?.isLetter == true
            && text.allSatisfy { ($0.isASCII && $0.isLetter) || $0.isASCIIDigit || $0 == "-" || $0 == "_" }
    }
}

enum GoogleSecretNameError: Error, Sendable, CustomStringConvertible {
    case shape
    case project(String)
    case secret(String)
    case version(String)

    var description: String {
        switch self {
        case .shape: "the secret's resource name, projects/PROJECT/secrets/SECRET, optionally followed by /versions/VERSION"
        case .project(let text):
            "the project '\(text)' must be a project number or an id of 6-30 lowercase letters, digits and '-', starting with a letter"
        case .secret(let text): "the secret id '\(text)' must be 1-255 letters, digits, '-' and '_'"
        case .version(let text): "the version '\(text)' must be latest, a version number from 1, or an alias"
        }
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
    fileprivate var isLowercaseASCIILetter: Bool { ("a"..."z").contains(self) }
}
