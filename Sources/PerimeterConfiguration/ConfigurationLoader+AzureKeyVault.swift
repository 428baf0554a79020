import Foundation
import PerimeterCore
import PerimeterSecrets
import Yams

extension ConfigurationLoader {
    /// `secrets.azure_kv`: exactly one identity (client credentials with a secret or a certificate, `workload_identity: true` or
    /// `managed_identity: true`), and optional `endpoint` and `metadata_endpoint` overrides.
    static func azureKeyVault(_ node: Node, reader: inout NodeReader) throws -> AzureKeyVaultSettings {
        let field = "secrets.azure_kv"
        let entries = try reader.mapping(
            node, field: field,
            allowed: [
                "tenant_id", "client_id", "client_secret", "client_certificate_path", "authority", "workload_identity", "managed_identity",
                "endpoint",
                "metadata_endpoint",
            ])
        var settings = AzureKeyVaultSettings()
        let workload = try entries["workload_identity"].map { try reader.bool($0, field: "\(field).workload_identity") } ?? false
        let managed = try entries["managed_identity"].map { try reader.bool($0, field: "\(field).managed_identity") } ?? false
        let clientSecret = entries["client_secret"]
        let certificate = entries["client_certificate_path"]
        let chosen = [workload, managed, clientSecret != nil, certificate != nil].filter { $0 }.count
        let fix =
            "choose one: client_secret or client_certificate_path (with tenant_id and client_id), workload_identity: true or managed_identity: true"
        guard chosen == 1 else {
            throw reader.error(node, field, chosen == 0 ? "names no identity" : "names more than one identity", fix: fix)
        }
        func only(_ names: [String], for identity: String) throws {
            for name in names {
                if let extra = entries[name] {
                    throw reader.error(extra, "\(field).\(name)", "does not apply to \(identity)", fix: "remove it")
                }
            }
        }
        /// The app registration both client credentials name.
        func application() throws -> (tenantID: String, clientID: String, authority: URL?) {
            try only(["metadata_endpoint"], for: "client credentials")
            return (
                try entraID(entries, "tenant_id", in: node, field: field, reader: &reader),
                try entraID(entries, "client_id", in: node, field: field, reader: &reader),
                try entries["authority"].map { try entraAuthority($0, field: "\(field).authority", reader: &reader) }
            )
        }
        if let clientSecret {
            let secret = try reader.secretReference(clientSecret, field: "\(field).client_secret")
            guard secret.scheme == "env" || secret.scheme == "file" else {
                throw reader.error(
                    clientSecret, "\(field).client_secret", "must be an env: or file: reference (it is read before any store)",
                    fix: "write e.g. env:AZURE_CLIENT_SECRET")
            }
            let app = try application()
            settings.identity = .clientSecret(tenantID: app.tenantID, clientID: app.clientID, secret: secret, authority: app.authority)
        } else if let certificate {
            let path = try reader.string(certificate, field: "\(field).client_certificate_path")
            guard path.hasPrefix("/") else {
                throw reader.error(
                    certificate, "\(field).client_certificate_path", "must be an absolute path",
                    fix: "give the PEM file holding the private key and the certificate, e.g. /run/secrets/entra-client.pem")
            }
            let app = try application()
            settings.identity = .clientCertificate(tenantID: app.tenantID, clientID: app.clientID, path: path, authority: app.authority)
        } else if workload {
            try only(["tenant_id", "client_id", "authority", "metadata_endpoint"], for: "workload_identity (it reads AZURE_* variables)")
            settings.identity = .workloadIdentity
        } else {
            try only(["tenant_id", "authority"], for: "managed_identity")
            var clientID: String?
            if entries["client_id"] != nil { clientID = try entraID(entries, "client_id", in: node, field: field, reader: &reader) }
            settings.identity = .managedIdentity(clientID: clientID)
        }
        let urls: [(String, WritableKeyPath<AzureKeyVaultSettings, URL?>)] = [
            ("endpoint", \.endpoint), ("metadata_endpoint", \.metadataEndpoint),
        ]
        for (name, keyPath) in urls {
            guard let item = entries[name] else { continue }
            let text = try reader.string(item, field: "\(field).\(name)")
            guard let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host?.isEmpty == false else {
                throw reader.error(item, "\(field).\(name)", "'\(text)' is not an http(s) URL", fix: "write e.g. http://127.0.0.1:8080")
            }
            settings[keyPath: keyPath] = url
        }
        return settings
    }

    /// A tenant or client id of an app registration.
    static func entraID(_ entries: [(String, Node)], _ name: String, in node: Node, field: String, reader: inout NodeReader) throws
        -> String
    {
        guard let value = entries[name] else {
            throw reader.error(node, "\(field).\(name)", "is missing", fix: "give the app registration's \(name)")
        }
        let text = try reader.string(value, field: "\(field).\(name)")
        guard PlainName.isValid(text, punctuation: "-._", maxLength: 200) else {
            throw reader.error(value, "\(field).\(name)", "'\(text)' is not an id", fix: "copy it from the app registration")
        }
        return text
    }

    /// Entra ID's authority: a client secret goes there, so in the clear only to this machine itself.
    static func entraAuthority(_ node: Node, field: String, reader: inout NodeReader) throws -> URL {
        let authority = try reader.string(node, field: field)
        guard let url = URL(string: authority), url.scheme == "https" || (url.scheme == "http" && EntraGrant.isLoopback(url)),
            url.host?.isEmpty == false
        else {
            throw reader.error(
                node, field, "'\(authority)' is not an https URL (http only to this machine)",
                fix: "write e.g. https://login.microsoftonline.us")
        }
        return url
    }
}
