import PerimeterCore

/// An Azure OpenAI resource (`kind: azure-openai`): its `api_version` and `deployments` (model name to
/// deployment name), reached at `{base}/openai/deployments/{deployment}/{operation}?api-version=`.
public struct AzureResource: Sendable, Hashable {
    public var apiVersion: String
    /// Model name to deployment name.
    public var deployments: [String: String]

    /// The API version used when `api_version` is not given: the current GA version.
    public static let defaultAPIVersion = "2024-10-21"

    public init(apiVersion: String, deployments: [String: String]) {
        self.apiVersion = apiVersion
        self.deployments = deployments
    }

    /// The upstream path and query of an OpenAI-shaped call of `model`; `nil` when the model has no
    /// deployment and its name could not be one (it would otherwise steer the path).
    public func path(for operation: CallOperation, model: String?) -> String? {
        let version = "api-version=" + apiVersion
        let deployment = model.map { deployments[$0] ?? $0 } ?? ""
        if operation == .chat || operation == .embeddings, !Self.isDeploymentName(deployment) { return nil }
        switch operation {
        case .chat: return "/openai/deployments/\(deployment)/chat/completions?\(version)"
        case .embeddings: return "/openai/deployments/\(deployment)/embeddings?\(version)"
        case .responses: return "/openai/v1/responses"
        default: return "/openai/models?\(version)"
        }
    }

    /// Letters, digits, '-', '_' and '.', starting with a letter or digit, at most 64.
    public static func isDeploymentName(_ text: String) -> Bool {
        PlainName.isValid(text, punctuation: "-_.", maxLength: 64)
    }

    /// The model a deployment serves, when this resource has the deployment.
    public func model(forDeployment deployment: String) -> String? {
        deployments.first { $0.value == deployment }?.key ?? (deployments[deployment] != nil ? deployment : nil)
    }
}
