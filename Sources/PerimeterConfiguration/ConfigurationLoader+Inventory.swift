import Foundation
import PerimeterCore
import PerimeterSecrets
import Yams

extension ConfigurationLoader {
    static let inventoryProviderFields = ["admin_key", "key_id"]

    /// `admin_key` (a secret reference to the provider's admin credential) and `key_id` (the provider's
    /// id for the key in `api_key`), read for OpenAI and Anthropic, the providers with an admin API.
    static func providerAdmin(
        _ fields: [(String, Node)], path: String, kindText: String, reader: inout NodeReader
    ) throws -> (adminKey: SecretReference?, keyID: String?) {
        let adminNode = fields["admin_key"]
        let idNode = fields["key_id"]
        guard adminNode != nil || idNode != nil else { return (nil, nil) }
        guard ["openai", "anthropic"].contains(kindText) else {
            throw reader.error(
                (adminNode ?? idNode)!, "\(path).\(adminNode != nil ? "admin_key" : "key_id")",
                "applies to kind: openai and kind: anthropic only",
                fix: "remove it; only OpenAI and Anthropic list their keys to an admin key")
        }
        let adminKey = try adminNode.map { try reader.secretReference($0, field: "\(path).admin_key") }
        let keyID = try idNode.map { node in
            let text = try reader.string(node, field: "\(path).key_id")
            guard PlainName.isValid(text, punctuation: "-_", maxLength: 200) else {
                throw reader.error(
                    node, "\(path).key_id", "'\(text)' is not a provider key id", fix: "write the id the provider shows, e.g. key_abc")
            }
            return text
        }
        return (adminKey, keyID)
    }

    /// `inventory: { provider_sync: 15m }`: how often providers with an `admin_key` are read.
    static func inventory(_ node: Node, reader: inout NodeReader) throws -> Duration {
        let fields = try reader.mapping(node, field: "inventory", allowed: ["provider_sync"])
        guard let syncNode = fields["provider_sync"] else { return .seconds(900) }
        let seconds = try reader.duration(syncNode, field: "inventory.provider_sync", example: "15m")
        // Anthropic supports polling its usage once a minute; OpenAI's buckets are an hour here.
        guard seconds >= 60, seconds <= 86400 else {
            throw reader.error(syncNode, "inventory.provider_sync", "must be from 1m to 24h", fix: "write e.g. 15m")
        }
        return .seconds(Int64(seconds))
    }
}
