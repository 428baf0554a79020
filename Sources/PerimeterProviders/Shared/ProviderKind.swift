/// The wire format a provider speaks.
public enum ProviderKind: String, Sendable, Hashable, Codable, CaseIterable {
    case openAI = "openai"
    case anthropic
    /// Google's Gemini API (generativelanguage.googleapis.com).
    case gemini
    /// Amazon Bedrock's runtime API (Converse and InvokeModel, with AWS's binary event stream).
    case bedrock
}
