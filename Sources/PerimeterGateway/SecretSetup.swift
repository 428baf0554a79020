import AsyncHTTPClient
import Foundation
import Logging
import NIOPosix
import NIOSSL
import PerimeterConfiguration
import PerimeterCore
import PerimeterSecrets
import PerimeterStorage

/// The secret stores a configuration needs, behind one resolver: `env:` and `file:` always, the
/// built-in store on the gateway's database, and Vault, AWS Secrets Manager, Azure Key Vault and
/// Google Secret Manager when a reference or the `secrets:` section asks for them.
struct SecretSetup: Sendable {
    let resolver: SecretResolver
    let builtIn: BuiltInSecretStore
    /// The clients Vault and AWS are reached with; shut down with the gateway.
    let clients: [HTTPClient]
    /// Stores rotated virtual keys can be delivered into.
    let writers: [String: any WritableSecretStore]

    func shutdownClients() async {
        for client in clients { try? await client.shutdown() }
    }
    /// One-time messages (a created master key file).
    let notices: [String]
    /// The master key when it outlives this process (given, or in a file), for sealing what instances
    /// share: rotation replay answers.
    let sharedMasterKey: MasterKey?

    static func make(
        configuration: GatewayConfiguration, storage: any SealedSecretStore, environment: [String: String],
        logger: Logger
    ) async throws -> SecretSetup {
        let (builtIn, notices, sharedMasterKey) = try await openBuiltIn(configuration, storage: storage, environment: environment)
        var stores: [String: any SecretStore] = [
            "env": EnvironmentSecretStore(environment: environment), "file": FileSecretStore(), "store": builtIn,
        ]
        // Every setting is checked before an HTTP client exists, so a refused configuration leaves
        // nothing to shut down.
        let bootstrap = SecretResolver(stores: stores, logger: logger)
        let vault = try await vaultConfiguration(configuration, environment: environment, bootstrap: bootstrap)
        let aws = try awsConfiguration(configuration, environment: environment)
        let azure = try azureKeyVaultIdentity(configuration, environment: environment, logger: logger)
        let google = try googleCredentials(configuration, environment: environment)
        // Vault gets a client of its own: its CA file replaces the trusted roots, which must not apply to AWS.
        var clients: [HTTPClient] = []
        if let vault {
            let settings = configuration.secrets.vault
            let caFile = settings.caFile ?? environment["VAULT_CACERT"].flatMap { $0.isEmpty ? nil : $0 }
            let http = try makeClient(caFile: caFile, configuration: configuration)
            clients.append(http)
            stores["vault"] = VaultSecretStore(configuration: vault, transport: AsyncHTTPSecretTransport(client: http))
        }
        if aws != nil || azure != nil || google != nil {
            // AWS, Azure and Google share a client with the system's trusted roots.
            let http: HTTPClient
            do {
                http = try makeClient(caFile: nil, configuration: configuration)
            } catch {
                for client in clients { try? await client.shutdown() }
                throw error
            }
            clients.append(http)
            if let aws {
                stores["aws-sm"] = AWSSecretsManagerStore(configuration: aws, transport: AsyncHTTPSecretTransport(client: http))
            }
            if let azure {
                stores["azure-kv"] = azure.store(transport: AsyncHTTPSecretTransport(client: http))
            }
            if let google {
                stores["gcp-sm"] = GoogleSecretManagerStore(
                    credentials: google, transport: AsyncHTTPSecretTransport(client: http),
                    endpoint: configuration.secrets.googleSecretManager.endpoint)
            }
        }
        let settings = configuration.secrets
        let resolver = SecretResolver(stores: stores, timeToLive: settings.cacheTTL, grace: settings.grace, logger: logger)
        var writers: [String: any WritableSecretStore] = [:]
        for scheme in ["vault", "aws-sm", "azure-kv", "gcp-sm"] {
            if let writable = stores[scheme] as? any WritableSecretStore { writers[scheme] = writable }
        }
        return SecretSetup(
            resolver: resolver, builtIn: builtIn, clients: clients, writers: writers, notices: notices, sharedMasterKey: sharedMasterKey)
    }

    /// The built-in store under its master key, refusing a key other than the one the database's
    /// secrets were sealed with; a master key file created just now is reported once.
    private static func openBuiltIn(
        _ configuration: GatewayConfiguration, storage: any SealedSecretStore, environment: [String: String]
    ) async throws -> (BuiltInSecretStore, notices: [String], shared: MasterKey?) {
        let master = try masterKey(configuration, environment: environment)
        // On PostgreSQL every instance must seal and open with one key, given to each of them.
        var refusal: String?
        if case .postgres = configuration.database, master.isEphemeral {
            refusal =
                "the built-in store on PostgreSQL needs a master key shared by every instance: set PERIMETER_MASTER_KEY or PERIMETER_MASTER_KEY_FILE (the same on each) and restart"
        }
        let builtIn = BuiltInSecretStore(storage: storage, master: master.key, writeRefusal: refusal)
        let foreign = try await builtIn.secretsSealedWithOtherKeys()
        if !foreign.isEmpty {
            if let created = master.createdFile { unlink(created) }
            throw ConfigurationError(
                file: configuration.sourceFile, field: "master key",
                problem:
                    "the database holds secrets (\(foreign.joined(separator: ", "))) sealed with another master key than the one from \(master.source) (id \(master.key.id))",
                fix: "start with the master key they were stored under: PERIMETER_MASTER_KEY or PERIMETER_MASTER_KEY_FILE")
        }
        let shared = master.isEphemeral ? nil : master.key
        guard let created = master.createdFile else { return (builtIn, [], shared) }
        return (
            builtIn,
            [
                """
                Created the master key of the built-in secret store at \(created) (mode 0600).
                Back it up apart from the database: without it, secrets stored with `perimeter secrets put` cannot be read.
                """
            ],
            shared
        )
    }

    /// A secret of Vault, AWS Secrets Manager or Azure Key Vault read before the database opens (the database password),
    /// through a client of its own that is shut down at once.
    static func readBeforeDatabase(
        _ reference: SecretReference, configuration: GatewayConfiguration, environment: [String: String], logger: Logger
    ) async throws -> Secret {
        let bootstrap = SecretResolver(
            stores: ["env": EnvironmentSecretStore(environment: environment), "file": FileSecretStore()], logger: logger)
        let store: any SecretStore
        let client: HTTPClient
        switch reference.scheme {
        case "vault":
            guard let vault = try await vaultConfiguration(configuration, environment: environment, bootstrap: bootstrap) else {
                throw ConfigurationError(
                    file: configuration.sourceFile, field: "database_password", problem: "vault: needs Vault configured",
                    fix: "set secrets.vault or VAULT_ADDR and VAULT_TOKEN")
            }
            let caFile = configuration.secrets.vault.caFile ?? environment["VAULT_CACERT"].flatMap { $0.isEmpty ? nil : $0 }
            client = try makeClient(caFile: caFile, configuration: configuration)
            store = VaultSecretStore(configuration: vault, transport: AsyncHTTPSecretTransport(client: client))
        case "aws-sm":
            guard let aws = try awsConfiguration(configuration, environment: environment) else {
                throw ConfigurationError(
                    file: configuration.sourceFile, field: "database_password", problem: "aws-sm: needs AWS configured",
                    fix:
                        "give the gateway AWS credentials as the AWS SDKs find them (environment, web identity, AWS_PROFILE, ECS or EC2 role), and secrets.aws.region or AWS_REGION"
                )
            }
            client = try makeClient(caFile: nil, configuration: configuration)
            store = AWSSecretsManagerStore(configuration: aws, transport: AsyncHTTPSecretTransport(client: client))
        case "azure-kv":
            // The reference is one of the configuration's, so a missing identity has been refused already.
            guard let azure = try azureKeyVaultIdentity(configuration, environment: environment, logger: logger) else {
                throw ConfigurationError(
                    file: configuration.sourceFile, field: "database_password", problem: "azure-kv: needs secrets.azure_kv",
                    fix:
                        "set secrets.azure_kv with workload_identity: true, managed_identity: true, or tenant_id, client_id and client_secret or client_certificate_path"
                )
            }
            client = try makeClient(caFile: nil, configuration: configuration)
            store = azure.store(transport: AsyncHTTPSecretTransport(client: client))
        default:
            throw ConfigurationError(
                file: configuration.sourceFile, field: "database_password",
                problem: "\(reference.scheme): is not a store read before the database",
                fix: "write env:NAME, file:PATH, vault:PATH#FIELD, aws-sm:ID or azure-kv:VAULT/SECRET")
        }
        do {
            let value = try await store.fetch(reference).secret
            try? await client.shutdown()
            return value
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// Vault is set up when a reference needs it (and then must be configured), or when it is
    /// configured at all, so rotated keys can be delivered into it.
    private static func vaultConfiguration(
        _ configuration: GatewayConfiguration, environment: [String: String], bootstrap: SecretResolver
    ) async throws -> VaultConfiguration? {
        let settings = configuration.secrets
        let schemes = Set(configuration.secretReferences.map(\.reference.scheme))
        let vaultAddress = settings.vault.address ?? environment["VAULT_ADDR"].flatMap { $0.isEmpty ? nil : $0 }
        let vaultToken =
            settings.vault.token != nil || settings.vault.appRole != nil || settings.vault.jwtLogin != nil
            || !(environment["VAULT_TOKEN"] ?? "").isEmpty
        guard schemes.contains("vault") || (vaultAddress != nil && vaultToken) else { return nil }
        guard let vaultAddress, let address = URL(string: vaultAddress) else {
            throw ConfigurationError(
                file: configuration.sourceFile, field: "secrets.vault.address",
                problem: "vault: references need Vault's address", fix: "set secrets.vault.address or VAULT_ADDR")
        }
        let auth: VaultConfiguration.Auth
        if let appRole = settings.vault.appRole {
            let secretID = try await resolve(appRole.secretID, with: bootstrap, configuration, field: "secrets.vault.approle.secret_id")
            auth = .appRole(mount: appRole.mount, roleID: appRole.roleID, secretID: secretID)
        } else if let login = settings.vault.jwtLogin {
            auth = .jwt(mount: login.mount, role: login.role, tokenFile: login.tokenFile)
        } else if let reference = settings.vault.token {
            auth = .token(try await resolve(reference, with: bootstrap, configuration, field: "secrets.vault.token"))
        } else if let token = environment["VAULT_TOKEN"], !token.isEmpty {
            auth = .token(Secret(token))
        } else {
            throw ConfigurationError(
                file: configuration.sourceFile, field: "secrets.vault",
                problem: "vault: references need a way to log in to Vault",
                fix:
                    "set VAULT_TOKEN, secrets.vault.token (a reference such as env:VAULT_TOKEN), secrets.vault.approle, secrets.vault.kubernetes or secrets.vault.jwt"
            )
        }
        let namespace = settings.vault.namespace ?? environment["VAULT_NAMESPACE"].flatMap { $0.isEmpty ? nil : $0 }
        return VaultConfiguration(address: address, namespace: namespace, auth: auth)
    }

    /// AWS Secrets Manager, when a reference needs it (then its settings must be complete) or when the
    /// `secrets.aws` section is there.
    private static func awsConfiguration(
        _ configuration: GatewayConfiguration, environment: [String: String]
    ) throws -> AWSSecretsManagerConfiguration? {
        let settings = configuration.secrets.aws
        if configuration.secretReferences.contains(where: { $0.reference.scheme == "aws-sm" }) {
            do {
                return try AWSSecretsManagerConfiguration.from(
                    environment: environment, region: settings.region, endpoint: settings.endpoint)
            } catch {
                throw ConfigurationError(
                    file: configuration.sourceFile, field: "secrets.aws", problem: error.description,
                    fix:
                        "give the gateway AWS credentials as the AWS SDKs find them (environment, web identity, AWS_PROFILE, ECS or EC2 role), and secrets.aws.region or AWS_REGION"
                )
            }
        }
        guard settings.region != nil || settings.endpoint != nil else { return nil }
        return try? AWSSecretsManagerConfiguration.from(environment: environment, region: settings.region, endpoint: settings.endpoint)
    }

    private static func masterKey(
        _ configuration: GatewayConfiguration, environment: [String: String]
    ) throws -> MasterKeyLoader.Loaded {
        var defaultFile: String?
        if case .sqlite(let path) = configuration.database {
            let directory = (path as NSString).deletingLastPathComponent
            defaultFile = (directory.isEmpty ? "." : directory) + "/" + MasterKeyLoader.defaultFileName
        }
        do {
            return try MasterKeyLoader.load(environment: environment, defaultFile: defaultFile)
        } catch {
            throw ConfigurationError(
                file: configuration.sourceFile, field: "master key", problem: error.description,
                fix: "see the README, section Secrets")
        }
    }

    private static func resolve(
        _ reference: SecretReference, with resolver: SecretResolver, _ configuration: GatewayConfiguration, field: String
    ) async throws -> Secret {
        guard reference.scheme == "env" || reference.scheme == "file" else {
            throw ConfigurationError(
                file: configuration.sourceFile, field: field, problem: "must be an env: or file: reference",
                fix: "write e.g. env:VAULT_TOKEN")
        }
        do {
            return try await resolver.secret(for: reference)
        } catch {
            throw ConfigurationError(file: configuration.sourceFile, field: field, problem: "\(error)", fix: "make the secret available")
        }
    }

    static func makeClient(caFile: String?, configuration: GatewayConfiguration) throws -> HTTPClient {
        var clientConfiguration = HTTPClient.Configuration()
        clientConfiguration.timeout = .init(connect: .seconds(5), read: .seconds(15))
        clientConfiguration.connectionPool.retryConnectionEstablishment = false
        if let caFile, !caFile.isEmpty {
            guard FileManager.default.isReadableFile(atPath: caFile) else {
                throw ConfigurationError(
                    file: configuration.sourceFile, field: "secrets.vault.ca_file", problem: "cannot read \(caFile)",
                    fix: "point it (or VAULT_CACERT) at the PEM file of the CA that signed Vault's certificate")
            }
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(caFile)
            clientConfiguration.tlsConfiguration = tls
        }
        return HTTPClient(eventLoopGroupProvider: .shared(MultiThreadedEventLoopGroup.singleton), configuration: clientConfiguration)
    }
}
