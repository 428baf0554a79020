import Foundation
import Logging
import PerimeterConfiguration
import PerimeterSecrets

extension SecretSetup {
    /// Who the gateway is to Entra ID for Key Vault, checked before any HTTP client exists.
    struct AzureKeyVaultIdentity {
        var grant: EntraGrant
        var scope: String
        var endpoint: URL?

        func store(transport: any SecretHTTPTransport) -> AzureKeyVaultStore {
            AzureKeyVaultStore(
                tokens: EntraClientCredentials(grant: grant, scope: scope, transport: transport), transport: transport, endpoint: endpoint)
        }
    }

    /// Azure Key Vault, when a reference needs it (then `secrets.azure_kv` must name an identity) or
    /// when the section is there, so rotated keys can be delivered into it.
    static func azureKeyVaultIdentity(
        _ configuration: GatewayConfiguration, environment: [String: String], logger: Logger
    ) throws -> AzureKeyVaultIdentity? {
        let settings = configuration.secrets.azureKeyVault
        let hosts = configuration.secretReferences.compactMap(\.reference.azureKeyVault?.vaultHost)
        guard let identity = settings.identity else {
            guard hosts.isEmpty else {
                throw ConfigurationError(
                    file: configuration.sourceFile, field: "secrets.azure_kv",
                    problem: "azure-kv: references need an identity for Entra ID",
                    fix:
                        "set secrets.azure_kv with workload_identity: true, managed_identity: true, or tenant_id, client_id and client_secret or client_certificate_path"
                )
            }
            return nil
        }
        let grant: EntraGrant
        switch identity {
        case .clientSecret(let tenantID, let clientID, let secret, let authority):
            // A resolver of its own (the store cannot be behind the one it serves), refreshed by the
            // store's maintain(), so a rotated client secret file is picked up.
            let resolver = SecretResolver(
                stores: ["env": EnvironmentSecretStore(environment: environment), "file": FileSecretStore()],
                timeToLive: configuration.secrets.cacheTTL, grace: configuration.secrets.grace, logger: logger)
            resolver.track([secret])
            grant = .clientSecret(
                tokenURL: EntraGrant.tokenURL(authority: authority ?? EntraGrant.defaultAuthority, tenantID: tenantID), clientID: clientID,
                secret: secret, resolver: resolver)
        case .clientCertificate(let tenantID, let clientID, let path, let authority):
            do {
                try EntraCertificate.check(pemFile: path)
            } catch {
                throw ConfigurationError(
                    file: configuration.sourceFile, field: "secrets.azure_kv.client_certificate_path", problem: error.description,
                    fix: "give a PEM file with the app registration's certificate and its unencrypted RSA private key")
            }
            grant = .clientCertificate(
                tokenURL: EntraGrant.tokenURL(authority: authority ?? EntraGrant.defaultAuthority, tenantID: tenantID), clientID: clientID,
                certificateFile: path)
        case .workloadIdentity:
            do {
                grant = try EntraGrant.workloadIdentity(environment: environment)
            } catch {
                throw ConfigurationError(
                    file: configuration.sourceFile, field: "secrets.azure_kv.workload_identity", problem: error.description,
                    fix: "run the gateway in a pod labelled azure.workload.identity/use: \"true\", or set the variables")
            }
        case .managedIdentity(let clientID):
            grant = .managedIdentity(endpoint: settings.metadataEndpoint ?? EntraGrant.instanceMetadataEndpoint, clientID: clientID)
        }
        // A token is for one cloud: Key Vault's resource in the cloud the vaults are in.
        let domains = Set(hosts.map { $0.split(separator: ".", maxSplits: 1).last.map(String.init) ?? "" })
        let scope = domains.count == 1 ? "https://\(domains.first!)/.default" : AzureKeyVaultStore.scope
        return AzureKeyVaultIdentity(grant: grant, scope: scope, endpoint: settings.endpoint)
    }
}
