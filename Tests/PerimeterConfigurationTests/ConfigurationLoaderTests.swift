import PerimeterAlerts
import PerimeterCore
import PerimeterProviders
import PerimeterSecrets
import Testing

@testable import PerimeterConfiguration

@Suite struct ConfigurationLoaderTests {
    func load(_ yaml: String, environment: [String: String] = [:]) throws -> GatewayConfiguration {
        var configuration = GatewayConfiguration()
        try ConfigurationLoader.apply(yaml: yaml, file: "perimeter.yaml", to: &configuration)
        try ConfigurationLoader.applyEnvironment(environment, to: &configuration)
        return configuration
    }

    func failure(_ yaml: String) -> ConfigurationError? {
        do {
            _ = try load(yaml)
            return nil
        } catch let error as ConfigurationError {
            return error
        } catch {
            return nil
        }
    }

    @Test func readsTheSecretsSection() throws {
        let configuration = try load(
            """
            providers:
              - { name: openai, kind: openai, base_url: "https://api.openai.com/v1", api_key: "vault:secret/perimeter/openai#api_key" }
              - { name: anthropic, kind: anthropic, base_url: "https://api.anthropic.com", api_key: "aws-sm:prod/anthropic#key" }
              - { name: local, kind: openai, base_url: "https://llm.internal/v1", api_key: "store:local" }
            secrets:
              cache_ttl: 60
              grace: 0
              vault:
                address: https://vault.internal:8200
                namespace: team-a
                ca_file: /etc/ssl/vault-ca.pem
                approle: { role_id: "role-1", secret_id: "env:VAULT_SECRET_ID" }
              aws: { region: eu-west-1, endpoint: "http://127.0.0.1:5000" }
            """)
        #expect(configuration.secrets.cacheTTL == .seconds(60))
        #expect(configuration.secrets.grace == .zero)
        #expect(configuration.secrets.vault.address == "https://vault.internal:8200")
        #expect(configuration.secrets.vault.namespace == "team-a")
        #expect(configuration.secrets.vault.appRole?.roleID == "role-1")
        #expect(configuration.secrets.vault.appRole?.mount == "approle")
        #expect(configuration.secrets.aws.region == "eu-west-1")
        #expect(configuration.providers.map { $0.apiKey?.scheme } == ["vault", "aws-sm", "store"])
        #expect(
            configuration.secretReferences.map(\.reference.description) == [
                "vault:secret/perimeter/openai#api_key", "aws-sm:prod/anthropic#key", "store:local",
            ])
    }

    @Test func readsTheAlertsSection() throws {
        let configuration = try load(
            """
            metrics: { per_key_labels: true }
            alerts:
              thresholds: [0.8, 0.5]
              spike: { window: 5m, factor: 4, min_requests: 50, min_usd: 2.5 }
              new_source: { learning: 12h }
              denial_burst: { count: 10, window: 30s }
              channels:
                - { name: ops, kind: webhook, url: "https://hooks.example/perimeter", secret: "env:ALERT_WEBHOOK_SECRET" }
                - { name: chat, kind: slack, url: "env:SLACK_WEBHOOK_URL", min_severity: critical, envs: [prod] }
            """)
        let alerts = configuration.alerts
        #expect(alerts.thresholds == [0.5, 0.8])
        #expect(alerts.spike.window == 300 && alerts.spike.factor == 4 && alerts.spike.minimumRequests == 50)
        #expect(alerts.spike.minimumCost == Money(usd: 2.5))
        #expect(alerts.newSourceLearning.map { Int($0) } == 43_200)
        #expect(alerts.denialBurst == BurstRule(count: 10, window: 30))
        #expect(alerts.channels.map(\.name) == ["ops", "chat"])
        #expect(alerts.channels[0].target == .url("https://hooks.example/perimeter"))
        #expect(alerts.channels[1].target == .reference(SecretReference(scheme: "env", path: "SLACK_WEBHOOK_URL")))
        #expect(alerts.channels[1].minimumSeverity == .critical && alerts.channels[1].environments == ["prod"])
        #expect(configuration.metricsPerKeyLabels)
        let critical = Alert(type: .canaryUsed, severity: .critical, time: .now, keyID: nil, env: "prod", message: "")
        let warning = Alert(type: .newSource, severity: .warning, time: .now, keyID: nil, env: "prod", message: "")
        let dev = Alert(type: .canaryUsed, severity: .critical, time: .now, keyID: nil, env: "dev", message: "")
        #expect(alerts.channels[1].accepts(critical) && !alerts.channels[1].accepts(warning) && !alerts.channels[1].accepts(dev))
    }

    @Test func refusesBadAlertSettings() {
        #expect(failure("alerts: { thresholds: [0] }")?.field == "alerts.thresholds")
        #expect(failure("alerts: { spike: { window: soon } }")?.field == "alerts.spike.window")
        #expect(failure("alerts: { channels: [ { name: a, kind: pager, url: \"https://x/y\" } ] }")?.field == "alerts.channels[0].kind")
        #expect(
            failure("alerts: { channels: [ { name: a, kind: slack, url: \"hooks.slack.com/x\" } ] }")?.field == "alerts.channels[0].url")
        #expect(failure("alerts: { channels: [ { name: a, kind: webhook } ] }")?.field == "alerts.channels[0]")
    }

    @Test func readsVaultKubernetesAndJWTLogins() throws {
        let kubernetes = try load("secrets: { vault: { address: 'https://v:8200', kubernetes: { role: perimeter } } }")
        #expect(kubernetes.secrets.vault.jwtLogin?.mount == "kubernetes" && kubernetes.secrets.vault.jwtLogin?.role == "perimeter")
        #expect(kubernetes.secrets.vault.jwtLogin?.tokenFile == "/var/run/secrets/kubernetes.io/serviceaccount/token")
        let jwt = try load("secrets: { vault: { jwt: { role: r, mount: oidc, token_file: /run/token } } }")
        #expect(jwt.secrets.vault.jwtLogin?.mount == "oidc" && jwt.secrets.vault.jwtLogin?.tokenFile == "/run/token")
    }

    @Test func refusesBadSecretsSettings() {
        #expect(failure("secrets: { cache_ttl: 0 }")?.field == "secrets.cache_ttl")
        #expect(failure("secrets: { vault: { address: vault } }")?.field == "secrets.vault.address")
        #expect(failure("secrets: { vault: { token: hvs.literal } }")?.field == "secrets.vault.token")
        #expect(failure("secrets: { vault: { approle: { role_id: r } } }")?.field == "secrets.vault.approle")
        #expect(failure("secrets: { vault: { kubernetes: { mount: k } } }")?.field == "secrets.vault.kubernetes.role")
        #expect(failure("secrets: { vault: { jwt: { role: r } } }")?.field == "secrets.vault.jwt.token_file")
        #expect(failure("secrets: { vault: { token: 'env:T', kubernetes: { role: r } } }")?.field == "secrets.vault")
        #expect(failure("secrets: { aws: { profile: x } }")?.field == "secrets.aws.profile")
        #expect(
            failure(
                """
                providers:
                  - { name: a, kind: openai, base_url: "https://a/v1", api_key: "vault:secret" }
                """)?.problem.contains("secret reference") == true)
    }

    @Test func readsTheStreamsAndDeliverySettings() throws {
        #expect(try load("listen: 127.0.0.1:1").streamDrainTimeout == nil)
        #expect(try load("streams: { on_client_disconnect: estimate }").streamDrainTimeout == nil)
        #expect(try load("streams: { on_client_disconnect: drain }").streamDrainTimeout == .seconds(30))
        #expect(try load("streams: { on_client_disconnect: drain, drain_timeout: 2m }").streamDrainTimeout == .seconds(120))
        #expect(failure("streams: { on_client_disconnect: wait }")?.field == "streams.on_client_disconnect")
        #expect(failure("streams: { on_client_disconnect: drain, drain_timeout: 1h }")?.field == "streams.drain_timeout")
        #expect(failure("streams: { drain: true }")?.field == "streams.drain")
        #expect(try load("listen: 127.0.0.1:1").shutdownTimeout == .seconds(30))
        #expect(try load("shutdown_timeout: 90s").shutdownTimeout == .seconds(90))
        #expect(failure("shutdown_timeout: 0s")?.field == "shutdown_timeout")
        #expect(failure("shutdown_timeout: 1h")?.field == "shutdown_timeout")
        #expect(try load("rotation: { delivery_directories: [/tmp] }").rotation.deliveryDirectories == ["/tmp"])
        #expect(failure("rotation: { delivery_directories: [relative] }")?.field == "rotation.delivery_directories")
        #expect(failure("rotation: { delivery_directories: [/nonexistent-perimeter-dir] }")?.field == "rotation.delivery_directories")
    }

    @Test func readsOpenAICompatibleProviders() throws {
        let configuration = try load(
            """
            providers:
              - { name: groq, kind: openai-compatible, base_url: "https://api.groq.com/openai/v1", api_key: "env:GROQ_API_KEY", stream_usage: true }
              - { name: ollama, kind: openai-compatible, base_url: "http://localhost:11434/v1", models: ["llama*"] }
              - { name: openai, kind: openai, base_url: "https://api.openai.com/v1", api_key: "env:OPENAI_API_KEY" }
            """)
        let (groq, ollama, openai) = (configuration.providers[0], configuration.providers[1], configuration.providers[2])
        #expect(groq.kind == .openAI && groq.streamUsage && groq.apiKey?.description == "env:GROQ_API_KEY")
        // No key (a self-hosted server), and no usage chunk unless configured.
        #expect(ollama.apiKey == nil && !ollama.streamUsage && ollama.models.map(\.description) == ["llama*"])
        #expect(openai.streamUsage)  // OpenAI itself always reports a stream's usage when asked
        #expect(
            failure("providers:\n  - {name: a, kind: openai, base_url: 'https://x', api_key: 'env:A', stream_usage: false}")?.field
                == "providers[0].stream_usage")
        #expect(
            failure("providers:\n  - {name: a, kind: openai-compatible, base_url: 'https://x', stream_usage: maybe}")?.field
                == "providers[0].stream_usage")
        // An OpenAI or Anthropic provider still needs its key.
        #expect(failure("providers:\n  - {name: a, kind: anthropic, base_url: 'https://x'}")?.field == "providers[0].api_key")
    }

    @Test func readsLongContextPricesAndGeminiProviders() throws {
        let configuration = try load(
            """
            providers:
              - { name: gemini, kind: gemini, base_url: "https://generativelanguage.googleapis.com", api_key: "env:GEMINI_KEY" }
            prices:
              my-model: { input: 1, output: 2, long_context: { above: 100000, input: 3, output: 4 } }
            """)
        #expect(configuration.providers.first?.kind == .gemini)
        let tier = try #require(configuration.priceOverrides["my-model"]?.longContext)
        #expect(tier == LongContextPrice(aboveInputTokens: 100_000, input: 3, output: 4))
        #expect(failure("prices:\n  m: { input: 1, output: 2, long_context: { input: 3, output: 4 } }")?.field == "prices.m.long_context")
        #expect(
            failure("prices:\n  m: { input: 1, output: 2, long_context: { above: 5, input: -3, output: 4 } }")?.field
                == "prices.m.long_context.input")
    }

    @Test func readsAzureOpenAIResources() throws {
        let configuration = try load(
            """
            providers:
              - name: azure
                kind: azure-openai
                base_url: "https://my-resource.openai.azure.com"
                api_key: "env:AZURE_OPENAI_KEY"
                deployments: { gpt-4o: prod-4o, text-embedding-3-small: emb }
            """)
        let azure = try #require(configuration.providers.first)
        #expect(azure.kind == .openAI && azure.azure?.apiVersion == AzureResource.defaultAPIVersion)
        #expect(azure.azure?.deployments == ["gpt-4o": "prod-4o", "text-embedding-3-small": "emb"])
        // It serves the models it has deployments for.
        #expect(azure.models.map(\.description) == ["gpt-4o", "text-embedding-3-small"])
        let base = "providers:\n  - {name: a, kind: azure-openai, base_url: 'https://x', api_key: 'env:A'"
        #expect(failure(base + "}")?.field == "providers[0].deployments")
        #expect(failure(base + ", deployments: {gpt-4o: '../x'}}")?.field == "providers[0].deployments.gpt-4o")
        #expect(failure(base + ", deployments: {gpt-4o: d}, api_version: latest}")?.field == "providers[0].api_version")
        #expect(
            failure("providers:\n  - {name: a, kind: openai, base_url: 'https://x', api_key: 'env:A', deployments: {a: b}}")?.field
                == "providers[0].deployments")
        // Entra ID instead of the resource key: not both.
        let entra = "entra: {tenant_id: t-1, client_id: c-1, client_secret: 'env:S'}"
        let withEntra = try load("providers:\n  - {name: a, kind: azure-openai, base_url: 'https://x', deployments: {m: d}, \(entra)}")
        #expect(withEntra.providers.first?.apiKey == nil && withEntra.providers.first?.entra?.tenantID == "t-1")
        #expect(withEntra.providers.first?.entra?.tokenURL.absoluteString == "https://login.microsoftonline.com/t-1/oauth2/v2.0/token")
        #expect(failure(base + ", deployments: {m: d}, \(entra)}")?.field == "providers[0].api_key")
        #expect(
            failure("providers:\n  - {name: a, kind: azure-openai, base_url: 'https://x', deployments: {m: d}, entra: {tenant_id: t}}")?
                .field == "providers[0].entra.client_secret")
    }

    @Test func readsBedrockProviders() throws {
        let configuration = try load(
            """
            providers:
              - { name: signed, kind: bedrock, region: eu-west-1, aws_access_key_id: "env:ID", aws_secret_access_key: "env:S" }
              - { name: keyed, kind: bedrock, region: us-east-1, base_url: "https://vpce.example", api_key: "env:BEDROCK_KEY",
                  anthropic_models: { claude-sonnet-4-5: "us.anthropic.claude-sonnet-4-5-20250929-v1:0" } }
            """)
        let signed = try #require(configuration.providers.first)
        #expect(signed.kind == .bedrock && signed.baseURL == "https://bedrock-runtime.eu-west-1.amazonaws.com" && signed.apiKey == nil)
        #expect(signed.aws?.region == "eu-west-1" && signed.aws?.service == "bedrock" && signed.aws?.sessionToken == nil)
        let keyed = configuration.providers[1]
        #expect(keyed.baseURL == "https://vpce.example" && keyed.aws == nil && keyed.apiKey != nil)
        #expect(keyed.bedrockAnthropicModels == ["claude-sonnet-4-5": "us.anthropic.claude-sonnet-4-5-20250929-v1:0"])
        #expect(
            failure("providers:\n  - {name: a, kind: bedrock, region: us-east-1, api_key: 'env:A', anthropic_models: {m: 'x/y'}}")?.field
                == "providers[0].anthropic_models.m")
        // Every credential is a reference the secret checks and the scanner's fingerprints know.
        #expect(configuration.secretReferences.map(\.usedBy).flatMap { $0 }.contains("provider:signed (aws_secret_access_key)"))
        // The AWS default chain instead of references, and only instead of them.
        let role = try load("providers:\n  - {name: r, kind: bedrock, region: us-east-1, aws_credentials: default}")
        #expect(role.providers.first?.aws?.usesDefaultChain == true && role.secretReferences.isEmpty)
        #expect(
            failure("providers:\n  - {name: r, kind: bedrock, region: us-east-1, aws_credentials: env}")?.field
                == "providers[0].aws_credentials")
        #expect(
            failure("providers:\n  - {name: r, kind: bedrock, region: us-east-1, aws_credentials: default, api_key: 'env:K'}")?.field
                == "providers[0].aws_credentials")
        #expect(
            failure("providers:\n  - {name: r, kind: openai, base_url: 'https://x', api_key: 'env:K', aws_credentials: default}") != nil)
    }

    @Test func readsTheDocumentedExample() throws {
        let configuration = try load(
            """
            listen: 0.0.0.0:9090
            database: sqlite:/var/lib/perimeter/p.db
            providers:
              - name: openai
                kind: openai
                base_url: https://api.openai.com/v1/
                api_key: env:OPENAI_API_KEY
                models: ["gpt-*", "o1*", "text-embedding-*"]
              - name: anthropic
                kind: anthropic
                base_url: https://api.anthropic.com
                api_key: file:/run/secrets/anthropic
                models: ["claude-*"]
            prices:
              gpt-4o-mini: { input: 0.15, output: 0.60, cached_input: 0.075 }
              my-model: { input: 1, output: 2 }
            """)
        #expect(configuration.host == "0.0.0.0")
        #expect(configuration.port == 9090)
        #expect(configuration.database == .sqlite(path: "/var/lib/perimeter/p.db"))
        #expect(configuration.providers.map(\.name) == ["openai", "anthropic"])
        #expect(configuration.providers[0].baseURL == "https://api.openai.com/v1")
        #expect(configuration.providers[0].apiKey?.description == "env:OPENAI_API_KEY")
        #expect(configuration.providers[1].kind == .anthropic)
        #expect(configuration.providers[1].models.map(\.description) == ["claude-*"])
        #expect(configuration.priceOverrides["gpt-4o-mini"] == ModelPrice(input: 0.15, output: 0.60, cachedInput: 0.075))
        #expect(configuration.priceOverrides["my-model"]?.output == 2)
    }

    @Test func readsEnvironmentBudgetsAndTrustedProxies() throws {
        let configuration = try load(
            """
            environments:
              prod: { budget: 500, period: month }
              staging: { budget: 20.5 }
            trusted_proxies: ["10.0.0.0/8", "::1"]
            """)
        #expect(configuration.environmentBudgets["prod"] == Budget(limit: Money(usd: 500), period: .month))
        #expect(configuration.environmentBudgets["staging"] == Budget(limit: Money(usd: 20.5), period: .month))
        #expect(configuration.trustedProxies.map(\.description) == ["10.0.0.0/8", "::1"])
    }

    @Test func environmentOverridesTheFile() throws {
        let configuration = try load(
            "listen: 127.0.0.1:1\ndatabase: memory",
            environment: ["PERIMETER_LISTEN": "[::1]:7000", "PERIMETER_DATABASE": "sqlite:x.db", "PERIMETER_ADMIN_TOKEN": "t"])
        #expect(configuration.host == "::1")
        #expect(configuration.port == 7000)
        #expect(configuration.database == .sqlite(path: "x.db"))
        #expect(configuration.adminToken == .literal(Secret("t")))
    }

    @Test func refusesALiteralKeyAndSaysToUseAReference() throws {
        let error = try #require(
            failure(
                """
                providers:
                  - name: openai
                    kind: openai
                    base_url: https://api.openai.com/v1
                    api_key: sk-proj-abcdefghijklmnop
                """))
        #expect(error.field == "providers[0].api_key")
        #expect(error.line == 5)
        #expect(error.description.contains("env:"))
        #expect(!error.description.contains("sk-proj-abcdefghijklmnop"))
    }

    @Test(arguments: [
        ("lisen: 1.2.3.4:5", "lisen", "unknown field"),
        (
            "providers:\n  - name: a\n    kind: openai\n    base_url: https://x\n    api_key: env:A\n    model: [x]", "providers[0].model",
            "unknown field"
        ),
        ("providers:\n  - {name: a, kind: openai, base_url: 'ftp://x', api_key: 'env:A'}", "providers[0].base_url", "not an http(s) URL"),
        (
            "providers:\n  - {name: a, kind: openai, base_url: 'https://x', api_key: 'env:A'}\n  - {name: a, kind: anthropic, base_url: 'https://y', api_key: 'env:B'}",
            "providers[1].name", "duplicate provider"
        ),
        ("providers:\n  - {name: a, kind: cohere, base_url: 'https://x', api_key: 'env:A'}", "providers[0].kind", "unknown kind"),
        ("providers:\n  - {name: a, kind: bedrock, api_key: 'env:A'}", "providers[0].region", "is missing"),
        ("providers:\n  - {name: a, kind: bedrock, region: US_EAST, api_key: 'env:A'}", "providers[0].region", "not an AWS region"),
        ("providers:\n  - {name: a, kind: bedrock, region: us-east-1}", "providers[0].api_key", "is missing"),
        (
            "providers:\n  - {name: a, kind: bedrock, region: us-east-1, aws_access_key_id: 'env:A'}",
            "providers[0].aws_secret_access_key", "is missing"
        ),
        (
            "providers:\n  - {name: a, kind: bedrock, region: us-east-1, api_key: 'env:K', aws_access_key_id: 'env:A', aws_secret_access_key: 'env:B'}",
            "providers[0].api_key", "is set beside"
        ),
        (
            "providers:\n  - {name: a, kind: openai, base_url: 'https://x', api_key: 'env:A', region: us-east-1}", "providers[0].region",
            "bedrock only"
        ),
        ("providers:\n  - {name: a, kind: openai, base_url: 'https://x'}", "providers[0].api_key", "is missing"),
        (
            "providers:\n  - {name: a, kind: openai, base_url: 'https://x', api_key: 'vault:x'}", "providers[0].api_key",
            "not a secret reference"
        ),
        (
            "providers:\n  - {name: a, kind: openai, base_url: 'http://x', api_key: 'env:A', ca_file: /etc/hostname}",
            "providers[0].ca_file",
            "base_url is not https"
        ),
        (
            "providers:\n  - {name: a, kind: openai, base_url: 'https://x', api_key: 'env:A', ca_file: /nonexistent/ca.pem}",
            "providers[0].ca_file", "cannot read"
        ),
        ("listen: nowhere", "listen", "not HOST:PORT"),
        ("database: postgres://x", "database", "names no user"), ("database: mysql://x", "database", "not a supported database"),
        ("database: postgres://app:pw@db/p", "database", "holds a password"),
        ("database_password: store:pg", "database_password", "not read before the database opens"),
        ("prices:\n  m: {input: -1, output: 1}", "prices.m.input", "non-negative"),
        ("max_body_bytes: 0", "max_body_bytes", "positive"),
        ("providers: {a: 1}", "providers", "must be a list"),
        ("listen: [", "(file)", "not valid YAML"),
        ("environments:\n  prod: { budget: -1 }", "environments.prod.budget", "from 0"),
        ("environments:\n  prod: { budget: 5, period: fortnight }", "environments.prod.period", "unknown period"),
        ("environments:\n  Prod: { budget: 5 }", "environments.Prod", "not an environment name"),
        ("trusted_proxies: [\"10.0.0.0/40\"]", "trusted_proxies", "not an IP address or CIDR"),
    ])
    func namesTheFieldAndTheProblem(yaml: String, field: String, problem: String) throws {
        let error = try #require(failure(yaml), "accepted: \(yaml)")
        #expect(error.field == field)
        #expect(error.description.contains(problem))
        #expect(error.description.hasPrefix("perimeter.yaml"))
        #expect(error.description.contains("Fix: "))
    }
}
