import Foundation
import PerimeterCore

/// Every rule the scanner knows: the AI providers' key formats, cloud keys that reach models
/// (AWS, Bedrock, Azure), and Perimeter's own keys, validated by their checksum.
///
/// Formats follow what each provider issues today (late 2026); formats with a fixed prefix or marker
/// match on it alone, the others need the provider's name shortly before the value and an entropy
/// floor. Each rule has true- and false-positive examples in `RuleCatalogTests`.
public enum RuleCatalog {
    public static let all: [Rule] = providerRules + cloudRules + perimeterRules + environmentRules

    public static func rule(id: String) -> Rule? { byID[id] }

    private static let byID = Dictionary(all.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })

    static let providerRules: [Rule] = [
        // OpenAI: every key kind carries `T3BlbkFJ` (base64 of "OpenAI") in its middle.
        Rule(
            id: "openai-api-key", provider: "OpenAI", title: "OpenAI API key (user, project, service account or admin)",
            shape: .marker(
                marker: "T3BlbkFJ", body: .urlSafe, starts: ["sk-proj-", "sk-svcacct-", "sk-admin-", "sk-None-", "sk-"],
                length: 51...400)),
        // Project, service-account and admin keys issued without the marker.
        Rule(
            id: "openai-project-key", provider: "OpenAI", title: "OpenAI project, service-account or admin key",
            shape: .prefixed(prefix: "sk-proj-", body: .urlSafe, length: 100...300)),
        Rule(
            id: "openai-service-account-key", provider: "OpenAI", title: "OpenAI service-account key",
            shape: .prefixed(prefix: "sk-svcacct-", body: .urlSafe, length: 100...300)),
        Rule(
            id: "openai-admin-key", provider: "OpenAI", title: "OpenAI admin key",
            shape: .prefixed(prefix: "sk-admin-", body: .urlSafe, length: 100...300)),
        Rule(
            id: "anthropic-api-key", provider: "Anthropic", title: "Anthropic API key",
            shape: .prefixed(prefix: "sk-ant-api03-", body: .urlSafe, length: 95...95), validate: { $0.hasSuffix("AA") }),
        Rule(
            id: "anthropic-admin-key", provider: "Anthropic", title: "Anthropic Admin API key",
            shape: .prefixed(prefix: "sk-ant-admin01-", body: .urlSafe, length: 95...95), validate: { $0.hasSuffix("AA") }),
        Rule(
            id: "google-ai-api-key", provider: "Google", title: "Google API key (Gemini, AI Studio, Vertex express)",
            shape: .prefixed(prefix: "AIza", body: .urlSafe, length: 35...35)),
        Rule(
            id: "huggingface-token", provider: "Hugging Face", title: "Hugging Face access token",
            shape: .prefixed(prefix: "hf_", body: .letters, length: 34...34)),
        Rule(
            id: "groq-api-key", provider: "Groq", title: "Groq API key",
            shape: .prefixed(prefix: "gsk_", body: .alphanumeric, length: 52...52)),
        Rule(
            id: "xai-api-key", provider: "xAI", title: "xAI (Grok) API key",
            shape: .prefixed(prefix: "xai-", body: .alphanumeric, length: 80...80)),
        Rule(
            id: "openrouter-api-key", provider: "OpenRouter", title: "OpenRouter API key",
            shape: .prefixed(prefix: "sk-or-v1-", body: .lowerHex, length: 64...64)),
        Rule(
            id: "perplexity-api-key", provider: "Perplexity", title: "Perplexity API key",
            shape: .prefixed(prefix: "pplx-", body: .alphanumeric, length: 40...56)),
        Rule(
            id: "replicate-api-token", provider: "Replicate", title: "Replicate API token",
            shape: .prefixed(prefix: "r8_", body: .alphanumeric, length: 37...37)),
        Rule(
            id: "together-api-key", provider: "Together AI", title: "Together AI API key",
            shape: .prefixed(prefix: "tgp_v1_", body: .urlSafe, length: 43...43)),
        Rule(
            id: "together-legacy-api-key", provider: "Together AI", title: "Together AI API key (64 hex, before tgp_v1_)",
            shape: .bare(body: .lowerHex, lengths: [64]), keywords: ["together"]),
        Rule(
            id: "mistral-api-key", provider: "Mistral AI", title: "Mistral AI API key",
            shape: .bare(body: .alphanumeric, lengths: [32]), keywords: ["mistral"]),
        Rule(
            id: "cohere-api-key", provider: "Cohere", title: "Cohere API key",
            shape: .bare(body: .alphanumeric, lengths: [40]), keywords: ["cohere", "co_api_key"]),
        Rule(
            id: "deepseek-api-key", provider: "DeepSeek", title: "DeepSeek API key",
            shape: .prefixed(prefix: "sk-", body: .lowerHex, length: 32...32), keywords: ["deepseek"]),
        Rule(
            id: "langsmith-api-key", provider: "LangSmith", title: "LangSmith personal access token or service key",
            // The body is mostly hex: its floor is hex's at that length, not the word class's.
            shape: .prefixed(prefix: "lsv2_", body: .word, length: 46...46), minimumEntropy: Entropy.floor(alphabetSize: 16, length: 42),
            validate: { token in
                let parts = token.split(separator: "_", omittingEmptySubsequences: false)
                return parts.count == 4 && ["pt", "sk"].contains(parts[1]) && parts[2].utf8.count == 32
                    && parts[3].utf8.count == 10 && (parts[2] + parts[3]).utf8.allSatisfy(ByteClass.lowerHex.contains)
            }),
        Rule(
            id: "pinecone-api-key", provider: "Pinecone", title: "Pinecone API key",
            shape: .prefixed(prefix: "pcsk_", body: .word, length: 60...80),
            validate: { token in
                let parts = token.split(separator: "_", omittingEmptySubsequences: false)
                return parts.count == 3 && (4...8).contains(parts[1].utf8.count) && parts[2].utf8.count >= 50
            }),
    ]

    static let cloudRules: [Rule] = [
        Rule(
            id: "azure-openai-api-key", provider: "Azure OpenAI", title: "Azure OpenAI / AI services key",
            // 32 hex digits or 84 alphanumerics: the floor is the hex form's.
            shape: .bare(body: .alphanumeric, lengths: [32, 84]), keywords: ["azure"],
            minimumEntropy: Entropy.floor(alphabetSize: 16, length: 32),
            validate: { token in token.utf8.count == 84 || token.utf8.allSatisfy(ByteClass.lowerHex.contains) }),
        Rule(
            id: "aws-access-key-id", provider: "AWS", title: "AWS access key id (long-term, AKIA)",
            shape: .prefixed(prefix: "AKIA", body: .upperAlphanumeric, length: 16...16)),
        Rule(
            id: "aws-temporary-access-key-id", provider: "AWS", title: "AWS temporary access key id (ASIA)",
            shape: .prefixed(prefix: "ASIA", body: .upperAlphanumeric, length: 16...16)),
        // The secret half: 40 bytes of base64 shortly after an access key id or the secret's usual names.
        Rule(
            id: "aws-secret-access-key", provider: "AWS", title: "AWS secret access key (near an access key id)",
            shape: .bare(body: .base64Unpadded, lengths: [40]),
            keywords: ["AKIA", "ASIA", "secret_access_key", "SecretAccessKey", "aws_secret", "secret-access-key"],
            keywordWindow: 300,
            validate: { token in !token.utf8.allSatisfy(ByteClass.lowerHex.contains) && !token.hasSuffix("=") }),
        // Long-term Bedrock API keys are "ABSK" + base64("BedrockAPIKey-..."), short-term ones a
        // prefixed base64 presigned URL.
        Rule(
            id: "aws-bedrock-api-key", provider: "AWS Bedrock", title: "Amazon Bedrock long-term API key",
            // The prefix is base64 of "BedrockAPIKey": the structure identifies it, and the rest is base64
            // of text (ids, an account number), less varied than random bytes; a low floor only.
            shape: .prefixed(prefix: "ABSKQmVkcm9ja0FQSUtleS", body: .base64, length: 40...400), minimumEntropy: 3.0),
        Rule(
            id: "aws-bedrock-short-term-api-key", provider: "AWS Bedrock", title: "Amazon Bedrock short-term API key",
            shape: .prefixed(prefix: "bedrock-api-key-", body: .base64, length: 100...4000)),
    ]

    static let perimeterRules: [Rule] = [
        Rule(
            id: "perimeter-virtual-key", provider: "Perimeter", title: "Perimeter virtual key (checksum verified)",
            shape: .prefixed(
                prefix: TokenFormat.keyPrefix, body: .urlSafe,
                length: (2 + TokenFormat.randomLength + TokenFormat.checksumLength)...(1 + TokenFormat.maximumEnvironmentLength
                    + TokenFormat.randomLength + TokenFormat.checksumLength)),
            isChecksummed: true, validate: { TokenFormat.parseVirtualKey($0) != nil }),
        Rule(
            id: "perimeter-admin-token", provider: "Perimeter", title: "Perimeter admin token (checksum verified)",
            shape: .prefixed(
                prefix: TokenFormat.adminPrefix, body: .alphanumeric,
                length: (TokenFormat.randomLength + TokenFormat.checksumLength)...(TokenFormat.randomLength + TokenFormat.checksumLength)),
            isChecksummed: true, validate: TokenFormat.isValidAdminToken),
    ]

    static let environmentRules: [Rule] = [
        Rule(id: "env-file-committed", provider: "dotenv", title: "A .env file is tracked or was committed", shape: .envFile),
        Rule(
            id: "generic-env-secret", provider: "dotenv", title: "A secret-looking value in a .env file",
            shape: .envAssignment(names: ["key", "token", "secret", "password"], minimumLength: 16), minimumEntropy: 3.5),
    ]
}
