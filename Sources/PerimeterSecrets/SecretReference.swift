/// A pointer to a secret, as written in config: `scheme:path`. The config holds references only;
/// a literal key is refused.
public struct SecretReference: Sendable, Hashable, CustomStringConvertible {
    public var scheme: String
    public var path: String

    public init(scheme: String, path: String) {
        self.scheme = scheme
        self.path = path
    }

    /// Schemes this build resolves.
    public static let knownSchemes = ["env", "file"]

    /// Parses `env:NAME` or `file:PATH`; throws a message that says what to write instead.
    public init(parsing text: String) throws(SecretReferenceError) {
        guard let colon = text.firstIndex(of: ":") else { throw .notAReference }
        let scheme = String(text[..<colon])
        let path = String(text[text.index(after: colon)...])
        guard Self.knownSchemes.contains(scheme) else {
            throw scheme.allSatisfy({ $0.isLetter || $0 == "-" }) && !scheme.isEmpty
                ? .unknownScheme(scheme) : .notAReference
        }
        guard !path.isEmpty else { throw .emptyPath(scheme) }
        self.init(scheme: scheme, path: path)
    }

    public var description: String { "\(scheme):\(path)" }
}

public enum SecretReferenceError: Error, Sendable, Hashable, CustomStringConvertible {
    case notAReference
    case unknownScheme(String)
    case emptyPath(String)

    public var description: String {
        switch self {
        case .notAReference:
            "a literal secret is not allowed here; write a reference instead, such as env:OPENAI_API_KEY or file:/run/secrets/openai"
        case .unknownScheme(let scheme):
            "unknown secret store '\(scheme):'; use one of \(SecretReference.knownSchemes.map { $0 + ":" }.joined(separator: ", "))"
        case .emptyPath(let scheme):
            "'\(scheme):' needs a name after the colon"
        }
    }
}
