import Foundation
import PerimeterConfiguration
import PerimeterSecrets

extension SecretSetup {
    /// Google Cloud's credentials for Secret Manager, when a `gcp-sm:` reference needs them or when
    /// `secrets.gcp_sm` is there (so rotated keys can be delivered into it); read and checked before
    /// any HTTP client exists.
    static func googleCredentials(
        _ configuration: GatewayConfiguration, environment: [String: String]
    ) throws -> GoogleCredentials? {
        let settings = configuration.secrets.googleSecretManager
        let referenced = configuration.secretReferences.contains { $0.reference.scheme == "gcp-sm" }
        guard referenced || settings.isConfigured else { return nil }
        do {
            return try GoogleCredentials.applicationDefault(
                file: settings.credentialsFile, metadataHost: settings.metadataHost, environment: environment)
        } catch {
            throw ConfigurationError(
                file: configuration.sourceFile,
                field: settings.credentialsFile != nil ? "secrets.gcp_sm.credentials_file" : "GOOGLE_APPLICATION_CREDENTIALS",
                problem: error.description,
                fix:
                    "point it at a service-account key or an external account (workload identity federation) JSON file, or leave it unset on Google Cloud to use the metadata server"
            )
        }
    }
}
