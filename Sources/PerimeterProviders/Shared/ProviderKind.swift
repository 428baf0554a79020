/// The wire format a provider speaks.
public enum ProviderKind: String, Sendable, Hashable, Codable, CaseIterable {
    case openAI = "openai"
    case anthropic
}
