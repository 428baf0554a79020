import PerimeterCore
import PerimeterProviders
import PerimeterSecrets

/// A provider ready to take calls: its configuration and the upstream that reaches it.
package struct ProviderRoute: Sendable {
    package var name: String
    package var kind: ProviderKind
    package var baseURL: String
    package var credential: SecretReference?
    package var models: [ModelPattern]
    package var upstream: any Upstream
    /// Whether a streamed chat call may ask for the provider's usage chunk (`stream_options`); when
    /// not, such calls are charged by estimate.
    package var streamUsage: Bool
    /// An Azure OpenAI resource: calls go to its deployments, with its API version and `api-key`.
    package var azure: AzureResource?
    /// A bearer token in place of `credential` (Entra ID for Azure), sent as `Authorization: Bearer`.
    package var bearer: (any BearerTokenSource)?
    /// AWS credentials to sign each call with (Bedrock), in place of `credential`.
    package var aws: AWSSigningSettings?
    /// The AWS default credential chain, when `aws` names no references (`aws_credentials: default`).
    package var awsChain: (any AWSCredentialProvider)?
    /// Anthropic model names a Bedrock provider serves on Anthropic's Messages route, with their Bedrock ids.
    package var anthropicModels: [String: String]

    package init(
        name: String, kind: ProviderKind, baseURL: String, credential: SecretReference?, models: [ModelPattern],
        upstream: any Upstream, streamUsage: Bool = true, azure: AzureResource? = nil, bearer: (any BearerTokenSource)? = nil,
        aws: AWSSigningSettings? = nil, anthropicModels: [String: String] = [:]
    ) {
        self.aws = aws
        self.anthropicModels = anthropicModels
        self.bearer = bearer
        self.azure = azure
        self.streamUsage = streamUsage
        self.name = name
        self.kind = kind
        self.baseURL = baseURL
        self.credential = credential
        self.models = models
        self.upstream = upstream
    }
}

extension ProviderRoute {
    /// True for a Bedrock provider that serves `model` to Anthropic's clients (its `anthropic_models`).
    func servesAnthropicMessages(kind: ProviderKind, model: String?) -> Bool {
        self.kind == .bedrock && kind == .anthropic && model.map { anthropicModels[$0] != nil } == true
    }
}

/// Picks the provider for a call: the first of the route family's kind whose model patterns match.
package struct ProviderDirectory: Sendable {
    package let providers: [ProviderRoute]

    package init(providers: [ProviderRoute]) {
        self.providers = providers
    }

    /// The first provider of `kind` whose models match and that `allows` (a key's provider rule)
    /// permits; refused when providers serve the model but none that the key may use.
    /// Every provider of `kind` the key may use, in configuration order.
    package func providers(kind: ProviderKind, allows: (String) -> Bool) -> [ProviderRoute] {
        providers.filter { $0.kind == kind && allows($0.name) }
    }

    /// The model an Azure deployment serves, from the first Azure resource that has it.
    package func azureModel(forDeployment deployment: String) -> String? {
        for provider in providers {
            if let model = provider.azure?.model(forDeployment: deployment) { return model }
        }
        return nil
    }

    package func provider(
        kind: ProviderKind, model: String?, allows: (String) -> Bool = { _ in true }, azureOnly: Bool = false
    ) throws -> ProviderRoute? {
        var served = false
        // An account's own Bedrock resource (an application inference profile, a provisioned model) is
        // served only by a provider that lists its ARN: `*` does not open another account's resources.
        let accountResource = kind == .bedrock && model.flatMap(BedrockARN.init) != nil
        for provider in providers where provider.kind == kind || provider.servesAnthropicMessages(kind: kind, model: model) {
            if azureOnly, provider.azure == nil { continue }
            if provider.kind == kind, let model,
                !provider.models.contains(where: { (!accountResource || $0.description.hasPrefix("arn:")) && $0.matches(model) })
            {
                continue
            }
            if allows(provider.name) { return provider }
            served = true
        }
        if served, let model { throw GatewayError.providerNotAllowed(model: model) }
        return nil
    }
}
