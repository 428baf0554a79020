import Foundation
import PerimeterCore
import Testing

@testable import PerimeterSecrets

/// The token request each identity sends.
@Suite struct EntraGrantTests {
    func form(_ request: SecretHTTPRequest) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in String(decoding: request.body, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? "" }
            fields[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        return fields
    }

    @Test func clientCredentialsPostsTheSecretForTheVaultScope() async throws {
        let grant = EntraGrant.clientSecret(
            tokenURL: EntraGrant.tokenURL(authority: EntraGrant.defaultAuthority, tenantID: "contoso"), clientID: "app-1",
            secret: SecretReference(scheme: "env", path: "AZ_SECRET"),
            resolver: SecretResolver(stores: ["env": EnvironmentSecretStore(environment: ["AZ_SECRET": "s3cr&t="])]))
        let request = try await grant.request(scope: AzureKeyVaultStore.scope)
        #expect(request.method == "POST")
        #expect(request.url.absoluteString == "https://login.microsoftonline.com/contoso/oauth2/v2.0/token")
        #expect(request.header("Content-Type") == "application/x-www-form-urlencoded")
        #expect(
            form(request) == [
                "grant_type": "client_credentials", "client_id": "app-1", "client_secret": "s3cr&t=",
                "scope": "https://vault.azure.net/.default",
            ])
    }

    @Test func workloadIdentityReadsTheEnvironmentAndReReadsTheTokenFileEachTime() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("federated-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try "eyJhbGciOi.first.sig\n".write(toFile: file, atomically: true, encoding: .utf8)
        let grant = try EntraGrant.workloadIdentity(environment: [
            "AZURE_FEDERATED_TOKEN_FILE": file, "AZURE_CLIENT_ID": "app-2", "AZURE_TENANT_ID": "tenant-2",
            "AZURE_AUTHORITY_HOST": "https://login.microsoftonline.us/",
        ])
        let first = try await grant.request(scope: AzureKeyVaultStore.scope)
        #expect(first.url.absoluteString == "https://login.microsoftonline.us/tenant-2/oauth2/v2.0/token")
        #expect(
            form(first) == [
                "grant_type": "client_credentials", "client_id": "app-2",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": "eyJhbGciOi.first.sig", "scope": "https://vault.azure.net/.default",
            ])
        // The kubelet rotates the file: the next request sends what is there now.
        try "eyJhbGciOi.second.sig".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(form(try await grant.request(scope: AzureKeyVaultStore.scope))["client_assertion"] == "eyJhbGciOi.second.sig")
        try FileManager.default.removeItem(atPath: file)
        let error = await #expect(throws: EntraTokenFailure.self) { try await grant.request(scope: AzureKeyVaultStore.scope) }
        #expect(error?.description.contains("cannot read the federated token file") == true)
    }

    @Test func workloadIdentityNamesWhatIsMissing() {
        #expect(throws: EntraConfigurationError.missingVariables(["AZURE_FEDERATED_TOKEN_FILE", "AZURE_TENANT_ID"])) {
            try EntraGrant.workloadIdentity(environment: ["AZURE_CLIENT_ID": "x"])
        }
        #expect(throws: EntraConfigurationError.badAuthority("http://login.example.com")) {
            try EntraGrant.workloadIdentity(environment: [
                "AZURE_FEDERATED_TOKEN_FILE": "/f", "AZURE_CLIENT_ID": "x", "AZURE_TENANT_ID": "t",
                "AZURE_AUTHORITY_HOST": "http://login.example.com",
            ])
        }
        let defaulted = try? EntraGrant.workloadIdentity(environment: [
            "AZURE_FEDERATED_TOKEN_FILE": "/f", "AZURE_CLIENT_ID": "x", "AZURE_TENANT_ID": "t",
        ])
        guard case .federatedToken(let url, _, _) = defaulted else {
            Issue.record("expected a federated token grant")
            return
        }
        #expect(url.absoluteString == "https://login.microsoftonline.com/t/oauth2/v2.0/token")
    }

    @Test func managedIdentityAsksTheMetadataEndpointForTheResource() async throws {
        let system = try await EntraGrant.managedIdentity(endpoint: EntraGrant.instanceMetadataEndpoint, clientID: nil)
            .request(scope: AzureKeyVaultStore.scope)
        #expect(system.method == "GET" && system.body.isEmpty)
        #expect(
            system.url.absoluteString
                == "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net")
        #expect(system.header("Metadata") == "true")
        let user = try await EntraGrant.managedIdentity(endpoint: URL(string: "http://127.0.0.1:8080/")!, clientID: "mi-1")
            .request(scope: AzureKeyVaultStore.scope)
        #expect(user.url.absoluteString.hasPrefix("http://127.0.0.1:8080/metadata/identity/oauth2/token?"))
        #expect(user.url.query?.contains("client_id=mi-1") == true)
        // IMDS answers with string numbers.
        let answer =
            #"{"access_token":"mi-token","expires_in":"86399","expires_on":"1790086399","resource":"https://vault.azure.net","token_type":"Bearer"}"#
        let (token, lifetime) = try EntraGrant.token(from: response(200, answer), requestedAt: Date(timeIntervalSince1970: 1_790_000_000))
        #expect(token.revealed == "mi-token" && lifetime == 86399)
    }
}
