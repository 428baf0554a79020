import Foundation
import PerimeterSecrets
import Testing

@testable import PerimeterConfiguration

/// `secrets.azure_kv`: one identity, strictly.
@Suite struct AzureKeyVaultConfigurationTests {
    func load(_ yaml: String) throws -> AzureKeyVaultSettings {
        var configuration = GatewayConfiguration()
        try ConfigurationLoader.apply(yaml: yaml, file: "perimeter.yaml", to: &configuration)
        return configuration.secrets.azureKeyVault
    }

    @Test func readsEachIdentity() throws {
        let credentials = try load(
            """
            secrets:
              azure_kv:
                tenant_id: contoso
                client_id: 11111111-2222-3333-4444-555555555555
                client_secret: env:AZURE_CLIENT_SECRET
                authority: https://login.microsoftonline.us
                endpoint: http://127.0.0.1:9000
            """)
        #expect(
            credentials.identity
                == .clientSecret(
                    tenantID: "contoso", clientID: "11111111-2222-3333-4444-555555555555",
                    secret: SecretReference(scheme: "env", path: "AZURE_CLIENT_SECRET"),
                    authority: URL(string: "https://login.microsoftonline.us")))
        #expect(credentials.endpoint?.absoluteString == "http://127.0.0.1:9000")
        #expect(try load("secrets: { azure_kv: { workload_identity: true } }").identity == .workloadIdentity)
        #expect(try load("secrets: { azure_kv: { managed_identity: true } }").identity == .managedIdentity(clientID: nil))
        let user = try load("secrets: { azure_kv: { managed_identity: true, client_id: mi-1, metadata_endpoint: 'http://127.0.0.1:1' } }")
        #expect(user.identity == .managedIdentity(clientID: "mi-1") && user.metadataEndpoint?.port == 1)
        #expect(try load("listen: 127.0.0.1:8080").identity == nil)
        let certificate = try load("secrets: { azure_kv: { tenant_id: t, client_id: c, client_certificate_path: /run/secrets/entra.pem } }")
        #expect(certificate.identity == .clientCertificate(tenantID: "t", clientID: "c", path: "/run/secrets/entra.pem", authority: nil))
    }

    @Test(arguments: [
        ("secrets: { azure_kv: {} }", "secrets.azure_kv", "names no identity"),
        ("secrets: { azure_kv: { workload_identity: true, managed_identity: true } }", "secrets.azure_kv", "more than one identity"),
        ("secrets: { azure_kv: { workload_identity: yes please } }", "secrets.azure_kv.workload_identity", "true or false"),
        ("secrets: { azure_kv: { workload_identity: true, tenant_id: t } }", "secrets.azure_kv.tenant_id", "does not apply"),
        ("secrets: { azure_kv: { managed_identity: true, authority: 'https://x' } }", "secrets.azure_kv.authority", "does not apply"),
        ("secrets: { azure_kv: { client_secret: env:S, client_id: c } }", "secrets.azure_kv.tenant_id", "is missing"),
        (
            "secrets: { azure_kv: { client_secret: literal, tenant_id: t, client_id: c } }", "secrets.azure_kv.client_secret",
            "secret reference"
        ),
        (
            "secrets: { azure_kv: { client_secret: 'vault:secret/x#y', tenant_id: t, client_id: c } }", "secrets.azure_kv.client_secret",
            "env: or file:"
        ),
        (
            "secrets: { azure_kv: { client_secret: env:S, tenant_id: t, client_id: c, authority: 'http://login.example' } }",
            "secrets.azure_kv.authority", "not an https URL"
        ),
        ("secrets: { azure_kv: { workload_identity: true, endpoint: vault } }", "secrets.azure_kv.endpoint", "not an http(s) URL"),
        ("secrets: { azure_kv: { managed_identity: true, vault: x } }", "secrets.azure_kv.vault", "unknown field"),
        (
            "secrets: { azure_kv: { client_secret: env:S, client_certificate_path: /c.pem, tenant_id: t, client_id: c } }",
            "secrets.azure_kv", "more than one identity"
        ),
        (
            "secrets: { azure_kv: { client_certificate_path: c.pem, tenant_id: t, client_id: c } }",
            "secrets.azure_kv.client_certificate_path", "absolute"
        ),
        ("secrets: { azure_kv: { client_certificate_path: /c.pem, client_id: c } }", "secrets.azure_kv.tenant_id", "is missing"),
    ])
    func refuses(_ yaml: String, field: String, problem: String) {
        do {
            _ = try load(yaml)
            Issue.record("accepted: \(yaml)")
        } catch let error as ConfigurationError {
            #expect(error.field == field)
            #expect(error.description.contains(problem), "\(error)")
        } catch {
            Issue.record("\(error)")
        }
    }
}
