import Foundation
import PerimeterCore
import PerimeterProviders
import Testing

@testable import PerimeterProxy

/// Which provider takes a call: the first of the route's wire format whose models match and that the
/// key may use.
@Suite struct ProviderDirectoryTests {
    func route(_ name: String, _ kind: ProviderKind, _ models: [String]) -> ProviderRoute {
        ProviderRoute(
            name: name, kind: kind, baseURL: "https://\(name).example/v1", credential: nil, models: models.map(ModelPattern.init),
            upstream: DemoUpstream(kind: kind))
    }

    var directory: ProviderDirectory {
        ProviderDirectory(providers: [
            route("openai", .openAI, ["gpt-*"]), route("azure", .openAI, ["gpt-*"]), route("groq", .openAI, ["llama-*"]),
            route("anthropic", .anthropic, ["claude-*"]),
        ])
    }

    @Test func theFirstMatchingProviderInConfigurationOrderTakesTheCall() throws {
        #expect(try directory.provider(kind: .openAI, model: "gpt-4o")?.name == "openai")
        #expect(try directory.provider(kind: .openAI, model: "llama-3")?.name == "groq")
        // The route's wire format counts: a Claude model is not served on OpenAI's routes.
        #expect(try directory.provider(kind: .openAI, model: "claude-3") == nil)
        #expect(try directory.provider(kind: .anthropic, model: nil)?.name == "anthropic")
    }

    @Test func aKeysProviderRuleRoutesPastOthersOrRefuses() throws {
        let azureOnly = KeyPolicy(allowedProviders: ["azure"])
        #expect(try directory.provider(kind: .openAI, model: "gpt-4o", allows: azureOnly.allowsProvider)?.name == "azure")
        // Only providers the key may not use serve the model: refused, not "no such model".
        #expect(throws: GatewayError.providerNotAllowed(model: "llama-3")) {
            try directory.provider(kind: .openAI, model: "llama-3", allows: azureOnly.allowsProvider)
        }
        // No provider serves it at all: not found, whatever the rule.
        #expect(try directory.provider(kind: .openAI, model: "mistral-large", allows: azureOnly.allowsProvider) == nil)
        #expect(try directory.provider(kind: .openAI, model: nil, allows: azureOnly.allowsProvider)?.name == "azure")
    }

    @Test func theRuleRoundTripsThroughTheStoredForm() throws {
        let policy = KeyPolicy(allowedProviders: ["azure", "bedrock"])
        let decoded = try JSONDecoder().decode(KeyPolicy.self, from: JSONEncoder().encode(policy))
        #expect(decoded.allowedProviders == ["azure", "bedrock"])
        #expect(String(decoding: try JSONEncoder().encode(KeyPolicy()), as: UTF8.self) == "{}")
    }

    @Test func anAzureResourceReachesItsDeploymentsAndNothingElse() {
        let resource = AzureResource(apiVersion: "2024-10-21", deployments: ["gpt-4o": "prod-4o", "text-embedding-3-small": "emb"])
        #expect(resource.path(for: .chat, model: "gpt-4o") == "/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21")
        #expect(
            resource.path(for: .embeddings, model: "text-embedding-3-small") == "/openai/deployments/emb/embeddings?api-version=2024-10-21")
        // A model without a deployment is tried as one by its own name, if that name could be one.
        #expect(resource.path(for: .chat, model: "gpt-4.1") == "/openai/deployments/gpt-4.1/chat/completions?api-version=2024-10-21")
        for steering in ["../admin", "a/b", "..", ".hidden", "x?y", ""] {
            #expect(resource.path(for: .chat, model: steering) == nil, "\(steering)")
        }
        #expect(resource.model(forDeployment: "prod-4o") == "gpt-4o")
        #expect(resource.model(forDeployment: "gpt-4o") == "gpt-4o")
        #expect(resource.model(forDeployment: "other") == nil)
    }
}
