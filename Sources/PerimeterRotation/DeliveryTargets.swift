import Foundation
import PerimeterCore
import PerimeterSecrets

/// Where rotated virtual keys can be delivered: the built-in store (`store:NAME`), a file
/// (`file:/ABSOLUTE/PATH`, replaced atomically with mode 0600), and Vault (`vault:MOUNT/PATH#FIELD`),
/// AWS Secrets Manager (`aws-sm:ID[#FIELD]`), Azure Key Vault (`azure-kv:VAULT/SECRET`, a new version) or
/// Google Secret Manager (`gcp-sm:projects/P/secrets/S`, a new version) when the gateway is configured to
/// reach them.
package struct DeliveryTargets: Sendable {
    let builtIn: BuiltInSecretStore
    /// Writable remote stores by scheme.
    let remote: [String: any WritableSecretStore]
    /// The directories `file:` targets may be in, symbolic links resolved.
    let fileDirectories: [String]

    package init(builtIn: BuiltInSecretStore, remote: [String: any WritableSecretStore], fileDirectories: [String] = []) {
        self.builtIn = builtIn
        self.remote = remote
        self.fileDirectories = fileDirectories.map { Self.resolved($0) ?? $0 }
    }

    /// `path` with every symbolic link and `.`/`..` resolved, or `nil` when it does not exist.
    static func resolved(_ path: String) -> String? {
        guard let pointer = realpath(path, nil) else { return nil }
        defer { free(pointer) }
        return String(cString: pointer)
    }

    /// Whether a `file:` target's directory is one of the configured delivery directories (or inside
    /// one), after resolving links, so `..` and symbolic links cannot lead elsewhere.
    func isAllowedFile(_ path: String) -> Bool {
        let name = (path as NSString).lastPathComponent
        guard path.hasPrefix("/"), !path.hasSuffix("/"), !name.isEmpty, name != ".", name != "..",
            let directory = Self.resolved((path as NSString).deletingLastPathComponent)
        else { return false }
        return fileDirectories.contains { allowed in
            directory == allowed || directory.hasPrefix(allowed.hasSuffix("/") ? allowed : allowed + "/")
        }
    }

    /// Checks a target before it is saved on a key.
    ///
    /// A target this gateway is not set up for (file delivery off or outside its directories, Vault or
    /// AWS not configured) is a conflict with its configuration (409); a malformed one is a 400.
    package func validate(_ text: String) throws -> SecretReference {
        // A Key Vault secret identifier URL is an azure-kv: reference.
        let scheme = text.hasPrefix("https://") ? "azure-kv" : text.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
        switch scheme {
        case "file":
            guard !fileDirectories.isEmpty else {
                throw GatewayError.conflict(
                    "'deliver_to' \(text): file delivery is off on this gateway; list the directories it may write to in rotation.delivery_directories."
                )
            }
        case "vault", "aws-sm", "azure-kv", "gcp-sm":
            guard remote[scheme] != nil else {
                let how =
                    switch scheme {
                    case "vault": "secrets.vault (or VAULT_ADDR and VAULT_TOKEN)"
                    case "aws-sm": "AWS credentials and region"
                    case "gcp-sm": "secrets.gcp_sm"
                    default: "secrets.azure_kv"
                    }
                throw GatewayError.conflict("'deliver_to' \(text): this gateway is not configured for \(scheme): (set \(how)).")
            }
        default: break
        }
        let reference: SecretReference
        do {
            reference = try SecretReference(parsing: text)
        } catch {
            throw GatewayError.invalidRequest("'deliver_to' is not a secret reference: \(error)")
        }
        switch reference.scheme {
        case "store":
            return reference
        case "file":
            guard isAllowedFile(reference.path) else {
                throw GatewayError.conflict(
                    "'deliver_to' \(text): the file must be an absolute path in one of rotation.delivery_directories (\(fileDirectories.joined(separator: ", ")))."
                )
            }
            return reference
        case "vault", "aws-sm", "azure-kv", "gcp-sm":
            if reference.scheme == "vault", reference.field == nil {
                throw GatewayError.invalidRequest("'deliver_to' \(text): name the field to write, vault:MOUNT/PATH#FIELD.")
            }
            if reference.azureKeyVault?.version != nil {
                throw GatewayError.invalidRequest("'deliver_to' \(text): name no version; each delivery adds one, azure-kv:VAULT/SECRET.")
            }
            if reference.googleSecret?.pinnedVersion != nil {
                throw GatewayError.invalidRequest(
                    "'deliver_to' \(text): name no version; each delivery adds one, gcp-sm:projects/PROJECT/secrets/SECRET.")
            }
            return reference
        default:
            throw GatewayError.invalidRequest(
                "'deliver_to' \(text): a key cannot be delivered into \(reference.scheme):; use store:, file:, vault:, aws-sm:, azure-kv: or gcp-sm:."
            )
        }
    }

    /// Writes a key's new secret to its target; a failure leaves the key unchanged.
    package func deliver(_ secret: Secret, to target: String) async throws {
        let reference = try validate(target)
        do {
            switch reference.scheme {
            case "store":
                if (try? await builtIn.fetch(reference)) == nil {
                    _ = try await builtIn.put(name: reference.path, value: secret)
                } else {
                    _ = try await builtIn.rotate(name: reference.path, value: secret)
                }
            case "file":
                try Self.writeAtomically(secret, to: reference.path)
            default:
                _ = try await remote[reference.scheme]!.write(secret, to: reference)
            }
        } catch {
            throw GatewayError.deliveryFailed("Could not deliver the new secret to \(target): \(error). The key was not changed.")
        }
    }

    static func writeAtomically(_ secret: Secret, to path: String) throws {
        let temporary = path + ".perimeter-\(Base62.random(count: 8))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw DeliveryError(String(cString: strerror(errno))) }
        let bytes = Array((secret.revealed + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == bytes.count, synced, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw DeliveryError(reason)
        }
    }

    struct DeliveryError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}
