import Foundation
import Testing

@testable import PerimeterConfiguration

/// `secrets.gcp_sm`: optional credentials file and overrides, strictly checked.
@Suite struct GoogleSecretManagerConfigurationTests {
    func load(_ yaml: String) throws -> GoogleSecretManagerSettings {
        var configuration = GatewayConfiguration()
        try ConfigurationLoader.apply(yaml: yaml, file: "perimeter.yaml", to: &configuration)
        return configuration.secrets.googleSecretManager
    }

    @Test func readsTheSection() throws {
        let settings = try load(
            """
            secrets:
              gcp_sm:
                credentials_file: /etc/perimeter/gcp.json
                endpoint: http://127.0.0.1:9000
            """)
        #expect(settings.isConfigured && settings.credentialsFile == "/etc/perimeter/gcp.json")
        #expect(settings.endpoint?.absoluteString == "http://127.0.0.1:9000")
        let metadata = try load("secrets: { gcp_sm: { metadata_host: '127.0.0.1:8089' } }")
        #expect(metadata.isConfigured && metadata.metadataHost == "127.0.0.1:8089" && metadata.credentialsFile == nil)
        #expect(try load("secrets: { gcp_sm: {} }").isConfigured)
        #expect(try !load("listen: 127.0.0.1:8080").isConfigured)
    }

    @Test(arguments: [
        ("secrets: { gcp_sm: { key: x } }", "secrets.gcp_sm.key", "unknown field"),
        ("secrets: { gcp_sm: { credentials_file: '' } }", "secrets.gcp_sm.credentials_file", "is empty"),
        ("secrets: { gcp_sm: { endpoint: 'http://secretmanager.example.com' } }", "secrets.gcp_sm.endpoint", "http only to this machine"),
        ("secrets: { gcp_sm: { endpoint: 'not a url' } }", "secrets.gcp_sm.endpoint", "not an https URL"),
        ("secrets: { gcp_sm: { metadata_host: 'http://x/y' } }", "secrets.gcp_sm.metadata_host", "HOST[:PORT]"),
        (
            "secrets: { gcp_sm: { credentials_file: /k.json, metadata_host: '127.0.0.1:1' } }", "secrets.gcp_sm.metadata_host",
            "does not apply"
        ),
    ])
    func refuses(_ yaml: String, field: String, saying: String) {
        do {
            _ = try load(yaml)
            Issue.record("\(yaml) must be refused")
        } catch {
            #expect("\(error)".contains(field) && "\(error)".contains(saying), "\(error)")
        }
    }
}
