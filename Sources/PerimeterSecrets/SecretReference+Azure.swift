import Foundation

/// `azure-kv:VAULT/SECRET[/VERSION]` and the secret identifier Azure shows,
/// `https://VAULT.vault.azure.net/secrets/SECRET[/VERSION]`, which is kept as
/// `azure-kv:VAULT/SECRET[/VERSION]`; in a sovereign cloud the vault is written as its host
/// (`azure-kv:VAULT.vault.azure.cn/SECRET`).
extension SecretReference {
    /// Key Vault's DNS suffixes: the public cloud, Azure China, Azure Government.
    public static let keyVaultDomains = ["vault.azure.net", "vault.azure.cn", "vault.usgovcloudapi.net"]

    /// What an `azure-kv:` reference points to.
    public struct AzureKeyVaultSecret: Sendable, Hashable {
        /// `NAME.vault.azure.net` (or a sovereign cloud's suffix).
        public var vaultHost: String
        public var name: String
        /// 32 hex digits; nil for the latest version.
        public var version: String?
    }

    /// The vault, secret and version of an `azure-kv:` reference; nil for any other scheme.
    public var azureKeyVault: AzureKeyVaultSecret? {
        guard scheme == "azure-kv" else { return nil }
        return try? Self.azureKeyVaultSecret(path)
    }

    /// Parses `VAULT/SECRET[/VERSION]`, throwing what is wrong.
    static func azureKeyVaultSecret(_ path: String) throws(AzureKeyVaultNameError) -> AzureKeyVaultSecret {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 || parts.count == 3 else { throw .shape }
        var vault = parts[0]
        var host = vault + ".vault.azure.net"
        if let dot = vault.firstIndex(of: ".") {
            let domain = String(vault[vault.index(after: dot)...]).lowercased()
            guard keyVaultDomains.contains(domain) else { throw .domain(domain) }
            host = vault.lowercased()
            vault = String(vault[..<dot])
        }
        guard isValidVaultName(vault) else { throw .vault(vault) }
        guard isValidKeyVaultSecretName(parts[1]) else { throw .secret(parts[1]) }
        let version = parts.count == 3 ? parts[2] : nil
        if let version, !(version.count == 32 && version.allSatisfy(\.isHexDigit)) { throw .version(version) }
        return AzureKeyVaultSecret(vaultHost: host, name: parts[1], version: version)
    }

    /// A Key Vault secret identifier URL as an `azure-kv:` reference.
    static func azureKeyVault(url text: String) throws(SecretReferenceError) -> SecretReference {
        let expected = "https://VAULT.vault.azure.net/secrets/SECRET[/VERSION] or azure-kv:VAULT/SECRET[/VERSION]"
        guard let url = URL(string: text), url.scheme == "https", let host = url.host?.lowercased(), url.port == nil,
            url.query == nil, url.fragment == nil, url.user == nil, let dot = host.firstIndex(of: ".")
        else { throw .malformed(text, expected: expected) }
        let domain = String(host[host.index(after: dot)...])
        guard keyVaultDomains.contains(domain) else {
            throw .malformed(text, expected: expected + " (\(AzureKeyVaultNameError.domain(domain)))")
        }
        let segments = url.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
        guard segments.first == "secrets", segments.count == 2 || segments.count == 3 else {
            throw .malformed(text, expected: expected)
        }
        let vault = domain == "vault.azure.net" ? String(host[..<dot]) : host
        let path = ([vault] + segments.dropFirst()).joined(separator: "/")
        do {
            _ = try azureKeyVaultSecret(path)
        } catch {
            throw .malformed(text, expected: expected + " (\(error))")
        }
        return SecretReference(scheme: "azure-kv", path: path)
    }

    /// Key Vault's rule: 3-24 letters, digits and '-', starting with a letter, ending with a letter
    /// or digit, no two '-' in a row.
    public static func isValidVaultName(_ name: String) -> Bool {
        (3...24).contains(name.count) && name.first?.isASCIILetter == true
            && (name.last?.isASCIILetter == true || name.last?.isASCIIDigit == true) && !name.contains("--")
            && name.allSatisfy { $0.isASCIILetter || $0.isASCIIDigit || $0 == "-" }
    }

    /// Key Vault's rule for secret names: 1-127 letters, digits and '-'.
    public static func isValidKeyVaultSecretName(_ name: String) -> Bool {
        (1...127).contains(name.count) && name.allSatisfy { $0.isASCIILetter || $0.isASCIIDigit || $0 == "-" }
    }
}

enum AzureKeyVaultNameError: Error, Sendable, CustomStringConvertible {
    case shape
    case domain(String)
    case vault(String)
    case secret(String)
    case version(String)

    var description: String {
        switch self {
        case .shape: "a vault, a secret name and optionally a version, separated by '/'"
        case .domain(let domain):
            "'\(domain)' is not a Key Vault domain; use \(SecretReference.keyVaultDomains.joined(separator: ", "))"
        case .vault(let name):
            "the vault name '\(name)' must be 3-24 letters, digits and '-', start with a letter, end with a letter or digit"
        case .secret(let name): "the secret name '\(name)' must be 1-127 letters, digits and '-'"
        case .version(let version): "the version '\(version)' must be 32 hex digits"
        }
    }
}

extension Character {
    fileprivate var isASCIILetter: Bool { isASCII && isLetter }
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
