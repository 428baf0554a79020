import Foundation
import PerimeterCore
import PerimeterSecrets
import Yams

extension ConfigurationLoader {
    static let bedrockFields = [
        "region", "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "aws_credentials", "anthropic_models",
    ]

    /// `anthropic_models` of a Bedrock provider: the Anthropic model names (as the Anthropic SDK sends
    /// them to `/v1/messages`) this provider serves, each with the Bedrock model id it calls.
    static func bedrockAnthropicModels(_ fields: [(String, Node)], path: String, reader: inout NodeReader) throws -> [String: String] {
        guard let node = fields["anthropic_models"] else { return [:] }
        var models: [String: String] = [:]
        for (model, value) in try reader.mapping(node, field: "\(path).anthropic_models", allowed: nil) {
            let id = try reader.string(value, field: "\(path).anthropic_models.\(model)")
            // The same rule the proxy applies to a model name in a path.
            for (text, node) in [(model, node), (id, value)] where !PlainName.isValid(text, punctuation: "-._:", maxLength: 200) {
                throw reader.error(
                    node, "\(path).anthropic_models.\(model)", "'\(text)' is not a model name or Bedrock model id",
                    fix: "map an Anthropic model name to a Bedrock id, e.g. claude-sonnet-4-5: us.anthropic.claude-sonnet-4-5-20250929-v1:0"
                )
            }
            models[model] = id
        }
        return models
    }

    /// `kind: bedrock`: the region (which names the default endpoint and signs the calls), and either
    /// a Bedrock API key (`api_key`) or AWS credentials to sign with, each a secret reference.
    static func bedrockSettings(
        _ fields: [(String, Node)], item: Node, path: String, isBedrock: Bool, reader: inout NodeReader
    ) throws -> (region: String, aws: AWSSigningSettings?)? {
        guard isBedrock else {
            if let (name, node) = fields.first(where: { bedrockFields.contains($0.0) }) {
                throw reader.error(node, "\(path).\(name)", "applies to kind: bedrock only", fix: "remove it")
            }
            return nil
        }
        guard let regionNode = fields["region"] else {
            throw reader.error(item, "\(path).region", "is missing", fix: "write the AWS region, e.g. region: us-east-1")
        }
        let region = try reader.string(regionNode, field: "\(path).region")
        guard PlainName.isValid(region, punctuation: "-", maxLength: 32), region == region.lowercased(), region.contains("-") else {
            throw reader.error(regionNode, "\(path).region", "'\(region)' is not an AWS region", fix: "write one such as us-east-1")
        }
        let keyID = fields["aws_access_key_id"]
        let secret = fields["aws_secret_access_key"]
        let token = fields["aws_session_token"]
        // `aws_credentials: default`: the AWS default credential chain (a web identity on EKS, an ECS or EC2 role).
        if let chainNode = fields["aws_credentials"] {
            guard try reader.string(chainNode, field: "\(path).aws_credentials") == "default" else {
                throw reader.error(chainNode, "\(path).aws_credentials", "must be default", fix: "write aws_credentials: default")
            }
            if let other = fields["api_key"] ?? keyID ?? secret ?? token {
                throw reader.error(
                    other, "\(path).aws_credentials", "is set beside other credentials",
                    fix: "keep one: the default chain or the references")
            }
            return (region, .defaultChain(region: region, service: "bedrock"))
        }
        if keyID == nil, secret == nil, token == nil {
            guard fields["api_key"] != nil else {
                throw reader.error(
                    item, "\(path).api_key", "is missing",
                    fix:
                        "write a Bedrock API key reference (api_key: env:AWS_BEARER_TOKEN_BEDROCK), aws_access_key_id and aws_secret_access_key, or aws_credentials: default"
                )
            }
            return (region, nil)
        }
        if let apiKey = fields["api_key"] {
            throw reader.error(
                apiKey, "\(path).api_key", "is set beside aws_access_key_id", fix: "keep one: the Bedrock API key or the AWS credentials")
        }
        guard let keyID, let secret else {
            let missing = keyID == nil ? "aws_access_key_id" : "aws_secret_access_key"
            throw reader.error(item, "\(path).\(missing)", "is missing", fix: "give both AWS credentials as secret references")
        }
        let aws = AWSSigningSettings(
            region: region, service: "bedrock", accessKeyID: try reader.secretReference(keyID, field: "\(path).aws_access_key_id"),
            secretAccessKey: try reader.secretReference(secret, field: "\(path).aws_secret_access_key"),
            sessionToken: try token.map { try reader.secretReference($0, field: "\(path).aws_session_token") })
        return (region, aws)
    }

    /// `ca_file`: a readable PEM file, for an https `base_url` only.
    static func caFile(_ fields: [(String, Node)], path: String, url: URL, reader: inout NodeReader) throws -> String? {
        if let caNode = fields["ca_file"] {
            let caPath = try reader.string(caNode, field: "\(path).ca_file")
            guard url.scheme == "https" else {
                throw reader.error(
                    caNode, "\(path).ca_file", "is set but base_url is not https", fix: "use an https:// base_url or remove ca_file")
            }
            guard FileManager.default.isReadableFile(atPath: caPath) else {
                throw reader.error(caNode, "\(path).ca_file", "cannot read \(caPath)", fix: "give the path of a readable PEM file")
            }
            return caPath
        }
        return nil
    }
}
