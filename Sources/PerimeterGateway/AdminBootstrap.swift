import Foundation
import PerimeterConfiguration
import PerimeterCore
import PerimeterSecrets
import PerimeterStorage

/// Decides the admin identities at start. A token from the environment or a secret reference is
/// trusted as `admin`; otherwise the tokens in the store are; and on the very first start, with none
/// anywhere, a new token is created, its hash stored, and the plaintext saved (mode 0600) for the CLI.
enum AdminBootstrap {
    struct Outcome {
        var tokens: [AdminToken]
        /// The plaintext of a token created just now, to print once.
        var createdToken: Secret?
        var savedTo: String?

        /// What the terminal shows once: a token created just now, and where the CLI will find it.
        var notices: [String] {
            guard let createdToken else { return [] }
            return [
                """
                Created the first admin token (shown only this once):

                    \(createdToken.revealed)

                \(savedTo.map { "Saved to \($0) (mode 0600), where the perimeter CLI on this machine finds it." } ?? "Could not save it; set PERIMETER_ADMIN_TOKEN for the CLI.")
                """
            ]
        }
    }

    static func run(configuration: GatewayConfiguration, store: any AdminTokenStore, secrets: SecretResolver) async throws -> Outcome {
        var tokens = try await store.adminTokens()
        switch configuration.adminToken {
        case .literal(let secret):
            tokens.append(configured(secret, name: "PERIMETER_ADMIN_TOKEN"))
            return Outcome(tokens: tokens)
        case .reference(let reference):
            let secret: Secret
            do {
                secret = try await secrets.secret(for: reference)
            } catch {
                throw ConfigurationError(
                    file: configuration.sourceFile, field: "admin_token", problem: "\(error)",
                    fix: "make the secret available or remove admin_token to use a generated token")
            }
            tokens.append(configured(secret, name: "admin_token"))
            return Outcome(tokens: tokens)
        case .generated:
            guard tokens.isEmpty else { return Outcome(tokens: tokens) }
            let secret = TokenFormat.makeAdminToken()
            let token = AdminToken(
                id: "adm_" + Base62.random(count: 16), name: "initial", role: .admin, digest: KeyDigest(of: secret),
                createdAt: Date())
            try await store.insertAdminToken(token)
            let path = GatewayConfiguration.adminTokenFile(home: configuration.homeDirectory)
            let saved = (try? save(secret, to: path)) != nil
            return Outcome(tokens: [token], createdToken: secret, savedTo: saved ? path : nil)
        }
    }

    private static func configured(_ secret: Secret, name: String) -> AdminToken {
        AdminToken(id: "adm_config", name: name, role: .admin, digest: KeyDigest(of: secret), createdAt: Date())
    }

    /// Writes the token readable by its owner only; the directory is created owner-only too.
    static func save(_ secret: Secret, to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data((secret.revealed + "\n").utf8))
    }
}
