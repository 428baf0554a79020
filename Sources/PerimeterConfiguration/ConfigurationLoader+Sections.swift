import Foundation
import PerimeterCore
import PerimeterRotation
import PerimeterSecrets
import Yams

/// The `secrets:` and `rotation:` sections, read as strictly as the rest of the file.
extension ConfigurationLoader {
    static func rotation(_ node: Node, reader: inout NodeReader) throws -> RotationPolicy {
        var policy = RotationPolicy()
        func duration(_ node: Node, _ field: String) throws -> Duration {
            .seconds(Int64(try reader.duration(node, field: field, example: "90d, 12h or 4w")))
        }
        let fields = try reader.mapping(
            node, field: "rotation",
            allowed: ["max_age", "stale_after", "expiring_within", "credential_max_age", "delivery_directories"])
        for (name, value) in fields {
            let path = "rotation.\(name)"
            switch name {
            case "max_age":
                if value.mapping == nil {
                    policy.defaultMaxAge = try duration(value, path)
                    continue
                }
                for (env, item) in try reader.mapping(value, field: path, allowed: nil) {
                    let age = try duration(item, "\(path).\(env)")
                    if env == "default" {
                        policy.defaultMaxAge = age
                    } else {
                        policy.maxAges[env] = age
                    }
                }
            case "stale_after": policy.staleAfter = try duration(value, path)
            case "expiring_within": policy.expiringWithin = try duration(value, path)
            case "delivery_directories":
                guard let list = value.sequence else {
                    throw reader.error(value, path, "must be a list of directories", fix: "write [/etc/myapp]")
                }
                for item in list {
                    let directory = try reader.string(item, field: path)
                    var isDirectory: ObjCBool = false
                    guard directory.hasPrefix("/"), FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory),
                        isDirectory.boolValue
                    else {
                        throw reader.error(
                            item, path, "'\(directory)' is not an existing directory given by its absolute path",
                            fix: "create it or fix the path")
                    }
                    policy.deliveryDirectories.append(directory)
                }
            default: policy.credentialMaxAge = try duration(value, path)
            }
        }
        return policy
    }

    /// `streams:` what happens to a stream whose client leaves: `on_client_disconnect: estimate` (the
    /// default: stop reading, charge the estimate) or `drain` (read on, discarding, for up to
    /// `drain_timeout`, to charge the provider's own usage). The drain time when draining, else `nil`.
    static func streams(_ node: Node, reader: inout NodeReader) throws -> Duration? {
        let fields = try reader.mapping(node, field: "streams", allowed: ["on_client_disconnect", "drain_timeout"])
        var drains = false
        if let mode = fields["on_client_disconnect"] {
            switch try reader.string(mode, field: "streams.on_client_disconnect") {
            case "estimate": drains = false
            case "drain": drains = true
            case let other:
                throw reader.error(mode, "streams.on_client_disconnect", "'\(other)' is not estimate or drain", fix: "write drain")
            }
        }
        var timeout: Duration = .seconds(30)
        if let value = fields["drain_timeout"] {
            let seconds = try reader.duration(value, field: "streams.drain_timeout", example: "30s or 2m")
            guard seconds <= 600 else {
                throw reader.error(value, "streams.drain_timeout", "must be at most 10m", fix: "write e.g. 30s")
            }
            timeout = .seconds(Int64(seconds))
        }
        return drains ? timeout : nil
    }

    static func secrets(_ node: Node, reader: inout NodeReader) throws -> SecretsSettings {
        var settings = SecretsSettings()
        let fields = try reader.mapping(node, field: "secrets", allowed: ["cache_ttl", "grace", "vault", "aws", "azure_kv", "gcp_sm"])
        for (name, value) in fields {
            switch name {
            case "cache_ttl":
                settings.cacheTTL = .seconds(try reader.positiveInt(value, field: "secrets.cache_ttl"))
            case "grace":
                settings.grace = .seconds(try reader.nonNegativeInt(value, field: "secrets.grace"))
            case "vault":
                let vault = try reader.mapping(
                    value, field: "secrets.vault", allowed: ["address", "namespace", "ca_file", "token", "approle", "kubernetes", "jwt"])
                for (field, item) in vault {
                    let path = "secrets.vault.\(field)"
                    switch field {
                    case "address":
                        let text = try reader.string(item, field: path)
                        guard let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                            throw reader.error(item, path, "'\(text)' is not an http(s) URL", fix: "write e.g. https://vault.internal:8200")
                        }
                        settings.vault.address = text
                    case "namespace": settings.vault.namespace = try reader.string(item, field: path)
                    case "ca_file": settings.vault.caFile = try reader.string(item, field: path)
                    case "token": settings.vault.token = try reader.secretReference(item, field: path)
                    case "kubernetes", "jwt":
                        let login = try reader.mapping(item, field: path, allowed: ["role", "mount", "token_file"])
                        guard let role = login["role"] else {
                            throw reader.error(
                                item, path + ".role", "is missing", fix: "write the Vault role to log in as, e.g. role: perimeter")
                        }
                        let defaultFile = field == "kubernetes" ? "/var/run/secrets/kubernetes.io/serviceaccount/token" : nil
                        guard
                            let tokenFile = try login["token_file"].map({ try reader.string($0, field: path + ".token_file") })
                                ?? defaultFile
                        else {
                            throw reader.error(
                                item, path + ".token_file", "is missing", fix: "write the path of the file that holds the JWT")
                        }
                        settings.vault.jwtLogin = (
                            mount: try login["mount"].map { try reader.string($0, field: path + ".mount") } ?? field,
                            role: try reader.string(role, field: path + ".role"), tokenFile: tokenFile
                        )
                    default:
                        let approle = try reader.mapping(item, field: path, allowed: ["role_id", "secret_id", "mount"])
                        guard let roleID = approle["role_id"], let secretID = approle["secret_id"] else {
                            throw reader.error(
                                item, path, "needs role_id and secret_id",
                                fix: #"write { role_id: "...", secret_id: "env:VAULT_SECRET_ID" }"#)
                        }
                        settings.vault.appRole = AppRoleSettings(
                            roleID: try reader.string(roleID, field: path + ".role_id"),
                            secretID: try reader.secretReference(secretID, field: path + ".secret_id"),
                            mount: try approle["mount"].map { try reader.string($0, field: path + ".mount") } ?? "approle")
                    }
                }
                let methods = [settings.vault.token != nil, settings.vault.appRole != nil, settings.vault.jwtLogin != nil]
                if methods.filter({ $0 }).count > 1 {
                    throw reader.error(
                        value, "secrets.vault", "sets more than one way to log in", fix: "keep one of token, approle, kubernetes and jwt")
                }
            case "azure_kv":
                settings.azureKeyVault = try azureKeyVault(value, reader: &reader)
            case "gcp_sm":
                settings.googleSecretManager = try googleSecretManager(value, reader: &reader)
            default:
                let aws = try reader.mapping(value, field: "secrets.aws", allowed: ["region", "endpoint"])
                for (field, item) in aws {
                    let path = "secrets.aws.\(field)"
                    let text = try reader.string(item, field: path)
                    if field == "region" {
                        settings.aws.region = text
                    } else {
                        guard let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                            throw reader.error(
                                item, path, "'\(text)' is not an http(s) URL",
                                fix: "write e.g. https://secretsmanager.eu-west-1.amazonaws.com")
                        }
                        settings.aws.endpoint = text
                    }
                }
            }
        }
        return settings
    }
}
