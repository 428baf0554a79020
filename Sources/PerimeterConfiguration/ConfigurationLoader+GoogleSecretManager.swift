import Foundation
import PerimeterSecrets
import Yams

extension ConfigurationLoader {
    /// `secrets.gcp_sm`: an optional `credentials_file` (else Application Default Credentials), and
    /// optional `endpoint` and `metadata_host` overrides.
    static func googleSecretManager(_ node: Node, reader: inout NodeReader) throws -> GoogleSecretManagerSettings {
        let field = "secrets.gcp_sm"
        let entries = try reader.mapping(node, field: field, allowed: ["credentials_file", "endpoint", "metadata_host"])
        var settings = GoogleSecretManagerSettings()
        settings.isConfigured = true
        if let item = entries["credentials_file"] {
            let path = try reader.string(item, field: "\(field).credentials_file")
            guard !path.isEmpty else {
                throw reader.error(
                    item, "\(field).credentials_file", "is empty", fix: "write the path of a service-account or external-account JSON file")
            }
            settings.credentialsFile = path
        }
        if let item = entries["endpoint"] {
            let text = try reader.string(item, field: "\(field).endpoint")
            guard let url = URL(string: text), url.host?.isEmpty == false,
                url.scheme == "https" || (url.scheme == "http" && EntraGrant.isLoopback(url)), url.query == nil
            else {
                throw reader.error(
                    item, "\(field).endpoint", "'\(text)' is not an https URL (http only to this machine)",
                    fix: "write e.g. https://secretmanager.googleapis.com")
            }
            settings.endpoint = url
        }
        if let item = entries["metadata_host"] {
            let host = try reader.string(item, field: "\(field).metadata_host")
            guard let url = URL(string: "http://\(host)"), url.host?.isEmpty == false, url.path.isEmpty, url.query == nil,
                url.user == nil
            else {
                throw reader.error(item, "\(field).metadata_host", "'\(host)' is not a HOST[:PORT]", fix: "write e.g. 127.0.0.1:8080")
            }
            settings.metadataHost = host
        }
        if settings.credentialsFile != nil, let item = entries["metadata_host"] {
            throw reader.error(item, "\(field).metadata_host", "does not apply with credentials_file", fix: "remove one of them")
        }
        return settings
    }
}
