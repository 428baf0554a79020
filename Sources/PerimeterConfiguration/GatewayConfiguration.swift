import Foundation
import PerimeterAdminModels
import PerimeterAlerts
import PerimeterCore
import PerimeterPostgres
import PerimeterProviders
import PerimeterRotation
import PerimeterSecrets

/// Everything `perimeter serve` needs, after the config file, the environment and flags are merged.
///
/// Each setting's YAML field and environment variable is named beside it; flags win over the
/// environment, which wins over the file.
public struct GatewayConfiguration: Sendable {
    /// `listen` / `PERIMETER_LISTEN` / `--listen`. Default `127.0.0.1:8080`.
    public var host = "127.0.0.1"
    public var port = 8080
    /// `database` / `PERIMETER_DATABASE` / `--database`: `sqlite:PATH` or `memory`. Default `sqlite:./perimeter.db`.
    public var database = DatabaseLocation.sqlite(path: "./perimeter.db")
    /// `admin_token` (a secret reference) or `PERIMETER_ADMIN_TOKEN` (the token itself). When neither is
    /// set, the first start creates a token, stores its hash and saves it for the CLI.
    public var adminToken: AdminTokenSource = .generated
    /// `providers`.
    public var providers: [ProviderConfiguration] = []
    /// `prices`: USD per million tokens, over the built-in table.
    public var priceOverrides: [String: ModelPrice] = [:]
    /// `max_body_bytes`. Default 10 MiB.
    public var maximumBodySize = 10 << 20
    /// `upstream_timeout` (seconds): how long to wait for upstream's response head, and then for each
    /// next byte of its body (a stream that pauses longer is cut). Default 600.
    public var upstreamTimeout: Duration = .seconds(600)
    /// `upstream_max_connections`: connections per provider host; each streaming call holds one. Default 10000.
    public var upstreamMaxConnections = 10_000
    /// `upstream_connect_timeout` (seconds). Default 10.
    public var upstreamConnectTimeout: Duration = .seconds(10)
    /// `--demo`: add the built-in simulated provider for every model no configured provider serves.
    public var demo = false
    /// Where the generated admin token is saved for the CLI (`PERIMETER_HOME`, default `~/.config/perimeter`).
    public var homeDirectory: String = GatewayConfiguration.defaultHomeDirectory()
    /// `call_log_flush_interval` (milliseconds): how often the call-log writer commits a batch. Default 200.
    public var callLogFlushInterval: Duration = .milliseconds(200)
    /// `call_log_backlog` (records, default 200,000): how many call records are kept in memory while the
    /// database cannot take them; at this bound new calls are refused with 503 `call_log_unavailable`.
    public var callLogBacklog = 200_000
    /// `streams.on_client_disconnect: drain` with `streams.drain_timeout` (default 30s): how long a stream
    /// whose client left is read on, its content discarded, for the provider's own usage. `nil` (the
    /// default, `estimate`): the stream stops at once and is charged the estimate.
    public var streamDrainTimeout: Duration?
    /// `database_password`: the PostgreSQL password as a secret reference (`env:NAME` or `file:PATH`);
    /// without it, `PGPASSWORD`. Never part of the `database` address.
    public var databasePassword: SecretReference?
    /// How long start-up waits for PostgreSQL to answer before it gives up with an error. 30 s.
    public var databaseStartTimeout: Duration = .seconds(30)
    /// `budget_lease` (PostgreSQL only, default 10s, 2s to 5m): how long an instance's lease of a budget
    /// lasts without renewal. A killed instance's unspent lease is free again after this; an instance cut
    /// off from the database stops spending its leases a fifth of it earlier. Also how long an instance
    /// may go unseen before the others close its calls in flight.
    public var budgetLease: TimeInterval = 10
    /// `shutdown_timeout` (default 30s, 1s to 10m): how long SIGTERM waits for calls in flight to end and
    /// for the call log and budget leases to reach the database before what is left is cancelled.
    public var shutdownTimeout: Duration = .seconds(30)
    /// `environments`: budgets shared by all keys of an environment, e.g. `prod: { budget: 500, period: month }`.
    public var environmentBudgets: [String: Budget] = [:]
    /// `trusted_proxies`: CIDRs of reverse proxies whose `X-Forwarded-For` is believed. Default none.
    public var trustedProxies: [CIDR] = []
    /// `secrets`: caching of provider secrets, and how to reach Vault and AWS Secrets Manager.
    public var secrets = SecretsSettings()
    /// `metrics.per_key_labels`: add a `key_id` label to request metrics (one series per key). Default false.
    public var metricsPerKeyLabels = false
    /// `alerts`: thresholds, anomaly rules and channels.
    public var alerts = AlertSettings()
    /// `rotation`: maximum key age per environment, when unused keys count as stale.
    public var rotation = RotationPolicy()
    /// `inventory.provider_sync`: how often providers with an `admin_key` are read. Default 15 minutes.
    public var providerSyncInterval: Duration = .seconds(900)
    /// `console`: the web console and its sessions.
    public var console = ConsoleSettings()
    /// The file this configuration came from, for messages.
    public var sourceFile: String?

    public init() {}

    public var listenAddress: String { "\(host):\(port)" }

    public static func defaultHomeDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let home = environment["PERIMETER_HOME"], !home.isEmpty { return home }
        if let config = environment["XDG_CONFIG_HOME"], !config.isEmpty { return config + "/perimeter" }
        return (environment["HOME"] ?? ".") + "/.config/perimeter"
    }

    public static func adminTokenFile(home: String) -> String { home + "/admin-token" }
}

public enum DatabaseLocation: Sendable, Hashable, CustomStringConvertible {
    case sqlite(path: String)
    case memory
    /// Shared by several instances; the password comes from `database_password` or `PGPASSWORD`.
    case postgres(PostgresLocation)

    public init?(parsing text: String) {
        if text == "memory" || text == "memory:" {
            self = .memory
        } else if text.hasPrefix("sqlite:"), text.count > "sqlite:".count {
            self = .sqlite(path: String(text.dropFirst("sqlite:".count)))
        } else if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://"),
            case .success(let location) = PostgresLocation.parse(text)
        {
            self = .postgres(location)
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .sqlite(let path): "sqlite:\(path)"
        case .memory: "memory"
        case .postgres(let location): location.description
        }
    }
}

public enum AdminTokenSource: Sendable, Hashable {
    /// Generated on first start, stored as a hash, saved for the CLI.
    case generated
    /// Given as plaintext (`PERIMETER_ADMIN_TOKEN`).
    case literal(Secret)
    /// Read from a secret store.
    case reference(SecretReference)
}

/// One upstream provider from config.
public struct ProviderConfiguration: Sendable, Hashable {
    public var name: String
    public var kind: ProviderKind
    public var baseURL: String
    /// `nil` only for the demo provider, which needs no credential.
    public var apiKey: SecretReference?
    public var models: [ModelPattern]
    /// `ca_file`: PEM file of the CA to trust for this provider instead of the system's roots (an
    /// internal endpoint or a TLS-inspecting proxy).
    public var caFile: String?
    /// `stream_usage`: whether the provider answers `stream_options.include_usage` with a usage chunk.
    /// True for OpenAI; for a compatible provider, false unless configured, and its streamed calls are
    /// then charged by estimate (input ceiling, output counted from what was relayed).
    public var streamUsage = true
    /// `kind: azure-openai`: the resource's API version and deployments; `kind` is then `.openAI`.
    public var azure: AzureResource?
    /// `entra:` of an Azure provider: a token from Microsoft Entra ID instead of the resource key.
    public var entra: EntraClientCredentials.Settings?
    /// `kind: bedrock` with `aws_access_key_id` and `aws_secret_access_key`: calls are signed with SigV4.
    public var aws: AWSSigningSettings?
    /// `anthropic_models` of `kind: bedrock`: Anthropic model names served on `/v1/messages`, by Bedrock id.
    public var bedrockAnthropicModels: [String: String] = [:]
    /// `admin_key` of OpenAI or Anthropic: the admin credential the provider's own key list and usage
    /// report are read with (the inventory's `provider_keys`, shadow-usage alerts).
    public var adminKey: SecretReference?
    /// `key_id`: the provider's id for the key in `api_key`, when known; else it is found by its hint.
    public var keyID: String?

    public init(
        name: String, kind: ProviderKind, baseURL: String, apiKey: SecretReference?, models: [ModelPattern], caFile: String? = nil,
        streamUsage: Bool = true, azure: AzureResource? = nil,
        entra: EntraClientCredentials.Settings? = nil, aws: AWSSigningSettings? = nil
    ) {
        self.aws = aws
        self.entra = entra
        self.azure = azure
        self.streamUsage = streamUsage
        self.name = name
        self.kind = kind
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.models = models
        self.caFile = caFile
    }
}

/// The `secrets:` section.
public struct SecretsSettings: Sendable {
    /// `cache_ttl` (seconds): how long a fetched secret serves before the background refresh. Default 300.
    public var cacheTTL: Duration = .seconds(300)
    /// `grace` (seconds): how long the last good value serves while its store is unreachable. Default 3600.
    public var grace: Duration = .seconds(3600)
    /// `vault`.
    public var vault = VaultSettings()
    /// `aws`.
    public var aws = AWSSettings()
    /// `azure_kv`.
    public var azureKeyVault = AzureKeyVaultSettings()
    /// `gcp_sm`.
    public var googleSecretManager = GoogleSecretManagerSettings()

    public init() {}
}

/// `secrets.vault`; each field falls back to Vault's usual environment variable.
public struct VaultSettings: Sendable {
    /// `address` / `VAULT_ADDR`.
    public var address: String?
    /// `namespace` / `VAULT_NAMESPACE`.
    public var namespace: String?
    /// `ca_file` / `VAULT_CACERT`: PEM file of the CA that signed Vault's certificate.
    public var caFile: String?
    /// `token`: a secret reference; else `VAULT_TOKEN`.
    public var token: SecretReference?
    /// `approle: { role_id, secret_id, mount }`: log in with AppRole instead of a token.
    public var appRole: AppRoleSettings?
    /// `kubernetes: { role, mount, token_file }` or `jwt: { role, mount, token_file }`: log in with a
    /// service-account or other JWT read from a file.
    public var jwtLogin: (mount: String, role: String, tokenFile: String)?

    public init() {}
}

public struct AppRoleSettings: Sendable {
    public var roleID: String
    /// A secret reference (env: or file:).
    public var secretID: SecretReference
    /// Where AppRole is mounted. Default `approle`.
    public var mount: String

    public init(roleID: String, secretID: SecretReference, mount: String = "approle") {
        self.roleID = roleID
        self.secretID = secretID
        self.mount = mount
    }
}

/// `secrets.aws`; credentials always come from the standard AWS variables.
public struct AWSSettings: Sendable {
    /// `region` / `AWS_REGION`.
    public var region: String?
    /// `endpoint` / `AWS_ENDPOINT_URL_SECRETS_MANAGER` / `AWS_ENDPOINT_URL`.
    public var endpoint: String?

    public init() {}
}

/// `secrets.azure_kv`: who the gateway is to Microsoft Entra ID when it reads Azure Key Vault.
public struct AzureKeyVaultSettings: Sendable {
    public enum Identity: Sendable, Hashable {
        /// `tenant_id`, `client_id`, `client_secret` (an env: or file: reference), optional `authority`.
        case clientSecret(tenantID: String, clientID: String, secret: SecretReference, authority: URL?)
        /// `tenant_id`, `client_id`, `client_certificate_path` (a PEM file with the private key and the
        /// certificate, as `AZURE_CLIENT_CERTIFICATE_PATH` for the Azure SDKs), optional `authority`.
        case clientCertificate(tenantID: String, clientID: String, path: String, authority: URL?)
        /// `workload_identity: true`: `AZURE_FEDERATED_TOKEN_FILE`, `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`
        /// and `AZURE_AUTHORITY_HOST`, as the Azure Workload Identity webhook sets them.
        case workloadIdentity
        /// `managed_identity: true`, with `client_id` for a user-assigned identity.
        case managedIdentity(clientID: String?)
    }

    /// Nil when the section is absent.
    public var identity: Identity?
    /// `endpoint`: replaces `https://VAULT.vault.azure.net` (a private endpoint's proxy, a test double).
    public var endpoint: URL?
    /// `metadata_endpoint`: the instance metadata service for `managed_identity`. Default `http://169.254.169.254`.
    public var metadataEndpoint: URL?

    public init() {}
}

/// `secrets.gcp_sm`: who the gateway is to Google Cloud when it reads Secret Manager. Every field is
/// optional: without a credentials file, `GOOGLE_APPLICATION_CREDENTIALS`, then the metadata server.
public struct GoogleSecretManagerSettings: Sendable {
    /// Whether the section is there (then the store is set up even with no `gcp-sm:` reference, for delivery).
    public var isConfigured = false
    /// `credentials_file`: a service-account key or an external account (workload identity federation)
    /// JSON file. Default `GOOGLE_APPLICATION_CREDENTIALS`.
    public var credentialsFile: String?
    /// `endpoint`: replaces `https://secretmanager.googleapis.com` (Private Service Connect, a test double).
    public var endpoint: URL?
    /// `metadata_host`: the metadata server's HOST[:PORT]. Default `GCE_METADATA_HOST`, else `metadata.google.internal`.
    public var metadataHost: String?

    public init() {}
}
