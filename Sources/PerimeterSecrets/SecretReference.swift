/// A pointer to a secret, as written in config: `scheme:path`. The config holds references only;
/// a literal key is refused.
///
/// - `env:NAME`: a variable of the gateway's environment
/// - `file:PATH`: a file's content (Docker and Kubernetes secrets)
/// - `store:NAME`: Perimeter's built-in encrypted store
/// - `vault:MOUNT/PATH#FIELD`: HashiCorp Vault (or OpenBao) KV version 2
/// - `aws-sm:SECRET_ID[#JSON_FIELD]`: AWS Secrets Manager
/// - `azure-kv:VAULT/SECRET[/VERSION]`, or the secret's `https://VAULT.vault.azure.net/secrets/...` URL:
///   Azure Key Vault
/// - `gcp-sm:projects/PROJECT/secrets/SECRET[/versions/VERSION]`: Google Cloud Secret Manager
public struct SecretReference: Sendable, Hashable, CustomStringConvertible {
    public var scheme: String
    public var path: String

    public init(scheme: String, path: String) {
        self.scheme = scheme
        self.path = path
    }

    /// Schemes this build resolves.
    public static let knownSchemes = ["env", "file", "store", "vault", "aws-sm", "azure-kv", "gcp-sm"]

    /// Parses a reference; throws a message that says what to write instead.
    public init(parsing text: String) throws(SecretReferenceError) {
        if text.hasPrefix("https://") {
            self = try Self.azureKeyVault(url: text)
            return
        }
        guard let colon = text.firstIndex(of: ":") else { throw .notAReference }
        let scheme = String(text[..<colon])
        let path = String(text[text.index(after: colon)...])
        guard Self.knownSchemes.contains(scheme) else {
            throw scheme.allSatisfy({ $0.isLetter || $0 == "-" }) && !scheme.isEmpty
                ? .unknownScheme(scheme) : .notAReference
        }
        guard !path.isEmpty else { throw .emptyPath(scheme) }
        self.init(scheme: scheme, path: path)
        switch scheme {
        case "store":
            guard Self.isValidStoreName(path) else { throw .malformed(text, expected: "store:NAME") }
        case "vault":
            let parts = location.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count >= 2, !parts.contains(where: \.isEmpty), field.map({ !$0.isEmpty }) ?? true else {
                throw .malformed(text, expected: "vault:MOUNT/PATH#FIELD, for example vault:secret/perimeter/openai#api_key")
            }
        case "aws-sm":
            guard !location.isEmpty, field.map({ !$0.isEmpty }) ?? true else {
                throw .malformed(text, expected: "aws-sm:SECRET_ID or aws-sm:SECRET_ID#JSON_FIELD")
            }
        case "azure-kv":
            do {
                _ = try Self.azureKeyVaultSecret(path)
            } catch {
                throw .malformed(text, expected: "azure-kv:VAULT_NAME/SECRET_NAME[/VERSION] (\(error))")
            }
        case "gcp-sm":
            do {
                _ = try Self.googleSecret(path)
            } catch {
                throw .malformed(text, expected: "gcp-sm:projects/PROJECT/secrets/SECRET[/versions/VERSION] (\(error))")
            }
        default:
            break
        }
    }

    /// The part before `#` (for `vault:` and `aws-sm:`), or the whole path.
    public var location: String {
        guard scheme == "vault" || scheme == "aws-sm", let hash = path.lastIndex(of: "#") else { return path }
        return String(path[..<hash])
    }

    /// The field after `#` (for `vault:` and `aws-sm:`).
    public var field: String? {
        guard scheme == "vault" || scheme == "aws-sm", let hash = path.lastIndex(of: "#") else { return nil }
        return String(path[path.index(after: hash)...])
    }

    /// Names of the built-in store: ASCII letters, digits and `._-`, up to 128 characters.
    public static func isValidStoreName(_ name: String) -> Bool {
        // `reload` is the path of POST /admin/v1/secrets/reload, so no secret can be addressed by it.
        !name.isEmpty && name.count <= 128 && name != "." && name != ".." && name != "reload"
            && name.unicodeScalars.allSatisfy { scalar in
                ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                    || "._-".unicodeScalars.contains(scalar)
            }
    }

    public var description: String { "\(scheme):\(path)" }
}

public enum SecretReferenceError: Error, Sendable, Hashable, CustomStringConvertible {
    case notAReference
    case unknownScheme(String)
    case emptyPath(String)
    case malformed(String, expected: String)

    public var description: String {
        switch self {
        case .notAReference:
            "a literal secret is not allowed here; write a reference instead, such as store:openai, "
                + "vault:secret/perimeter/openai#api_key, aws-sm:perimeter/openai, azure-kv:my-vault/openai, gcp-sm:projects/my-project/secrets/openai, env:OPENAI_API_KEY or file:/run/secrets/openai"
        case .unknownScheme(let scheme):
            "unknown secret store '\(scheme):'; use one of \(SecretReference.knownSchemes.map { $0 + ":" }.joined(separator: ", "))"
        case .emptyPath(let scheme):
            "'\(scheme):' needs a name after the colon"
        case .malformed(let text, let expected):
            "'\(text)' is not a valid reference; write \(expected)"
        }
    }
}
