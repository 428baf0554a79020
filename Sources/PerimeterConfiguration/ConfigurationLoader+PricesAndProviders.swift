import Foundation
import PerimeterCore
import PerimeterProviders
import PerimeterSecrets
import Yams

extension ConfigurationLoader {
    static func prices(_ node: Node, reader: inout NodeReader) throws -> [String: ModelPrice] {
        let entries = try reader.mapping(node, field: "prices", allowed: nil)
        var result: [String: ModelPrice] = [:]
        for (model, value) in entries {
            let path = "prices.\(model)"
            let fields = try reader.mapping(value, field: path, allowed: priceFields)
            func number(_ name: String) throws -> Double? {
                guard let node = fields[name] else { return nil }
                guard let value = node.float ?? node.int.map(Double.init), value >= 0, value.isFinite else {
                    throw reader.error(
                        node, "\(path).\(name)", "must be a non-negative number", fix: "write USD per million tokens, e.g. 0.15")
                }
                return value
            }
            guard let input = try number("input"), let output = try number("output") else {
                throw reader.error(value, path, "needs both input and output", fix: "write { input: 0.15, output: 0.60 }")
            }
            var longContext: LongContextPrice?
            if let tierNode = fields["long_context"] {
                let tierPath = path + ".long_context"
                let tier = try reader.mapping(tierNode, field: tierPath, allowed: longContextFields)
                func tierNumber(_ name: String) throws -> Double? {
                    guard let node = tier[name] else { return nil }
                    guard let value = node.float ?? node.int.map(Double.init), value >= 0, value.isFinite else {
                        throw reader.error(node, "\(tierPath).\(name)", "must be a non-negative number", fix: "write e.g. 2.50")
                    }
                    return value
                }
                guard let above = tier["above"], let threshold = above.int, threshold > 0, let tierInput = try tierNumber("input"),
                    let tierOutput = try tierNumber("output")
                else {
                    throw reader.error(
                        tierNode, tierPath, "needs above (prompt tokens), input and output",
                        fix: "write { above: 200000, input: 2.50, output: 15 }")
                }
                longContext = LongContextPrice(
                    aboveInputTokens: threshold, input: tierInput, output: tierOutput, cachedInput: try tierNumber("cached_input"))
            }
            result[model] = ModelPrice(
                input: input, output: output, cachedInput: try number("cached_input"), cacheWrite: try number("cache_write"),
                longContext: longContext)
        }
        return result
    }

    /// `api_version` and `deployments` of an `azure-openai` provider; refused on other kinds.
    static func azureDeployments(_ fields: [(String, Node)], path: String, isAzure: Bool, reader: inout NodeReader) throws
        -> AzureResource?
    {
        guard isAzure else {
            for name in ["api_version", "deployments"] {
                if let node = fields[name] {
                    throw reader.error(node, "\(path).\(name)", "applies to kind: azure-openai only", fix: "remove it")
                }
            }
            return nil
        }
        var apiVersion = AzureResource.defaultAPIVersion
        if let node = fields["api_version"] {
            apiVersion = try reader.string(node, field: "\(path).api_version")
            guard apiVersion.range(of: #"^\d{4}-\d{2}-\d{2}(-preview)?$"#, options: .regularExpression) != nil else {
                throw reader.error(node, "\(path).api_version", "'\(apiVersion)' is not an API version", fix: "write e.g. 2024-10-21")
            }
        }
        guard let node = fields["deployments"] else {
            throw reader.error(
                fields["kind"] ?? fields["name"]!, "\(path).deployments", "is missing",
                fix: "map each model to its deployment, e.g. deployments: { gpt-4o: prod-gpt-4o }")
        }
        let entries = try reader.mapping(node, field: "\(path).deployments", allowed: nil)
        var deployments: [String: String] = [:]
        for (model, value) in entries {
            let deployment = try reader.string(value, field: "\(path).deployments.\(model)")
            // The same rule the proxy applies before a deployment goes into the upstream path.
            guard AzureResource.isDeploymentName(deployment) else {
                throw reader.error(
                    value, "\(path).deployments.\(model)", "'\(deployment)' is not a deployment name",
                    fix: "use the deployment's name in Azure: letters, digits, '-', '_' and '.'")
            }
            deployments[model] = deployment
        }
        guard !deployments.isEmpty else {
            throw reader.error(node, "\(path).deployments", "is empty", fix: "map at least one model to its deployment")
        }
        return AzureResource(apiVersion: apiVersion, deployments: deployments)
    }

    /// `entra: { tenant_id, client_id, client_secret, authority }` of an `azure-openai` provider.
    static func entraSettings(_ fields: [(String, Node)], path: String, isAzure: Bool, reader: inout NodeReader) throws
        -> EntraClientCredentials.Settings?
    {
        guard let node = fields["entra"] else { return nil }
        let field = path + ".entra"
        guard isAzure else { throw reader.error(node, field, "applies to kind: azure-openai only", fix: "remove it") }
        let entries = try reader.mapping(node, field: field, allowed: ["tenant_id", "client_id", "client_secret", "authority"])
        guard let secretNode = entries["client_secret"] else {
            throw reader.error(
                node, "\(field).client_secret", "is missing", fix: "write a secret reference such as vault:secret/entra#secret")
        }
        var settings = EntraClientCredentials.Settings(
            tenantID: try entraID(entries, "tenant_id", in: node, field: field, reader: &reader),
            clientID: try entraID(entries, "client_id", in: node, field: field, reader: &reader),
            clientSecret: try reader.secretReference(secretNode, field: "\(field).client_secret"))
        if let authorityNode = entries["authority"] {
            settings.authority = try entraAuthority(authorityNode, field: "\(field).authority", reader: &reader)
        }
        return settings
    }
}
