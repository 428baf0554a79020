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

    package init(
        name: String, kind: ProviderKind, baseURL: String, credential: SecretReference?, models: [ModelPattern],
        upstream: any Upstream
    ) {
        self.name = name
        self.kind = kind
        self.baseURL = baseURL
        self.credential = credential
        self.models = models
        self.upstream = upstream
    }
}

/// Picks the provider for a call: the first of the route family's kind whose model patterns match.
package struct ProviderDirectory: Sendable {
    package let providers: [ProviderRoute]

    package init(providers: [ProviderRoute]) {
        self.providers = providers
    }

    package func provider(kind: ProviderKind, model: String?) -> ProviderRoute? {
        guard let model else { return providers.first { $0.kind == kind } }
        return providers.first { $0.kind == kind && $0.models.contains { $0.matches(model) } }
    }
}
