import Foundation
import Logging
import PerimeterConfiguration
import PerimeterCore
import PerimeterSecrets
import Testing

@testable import PerimeterGateway

/// What the composition root does before it listens: open the store, open the secret stores and
/// resolve every reference once, as `serve --check` reports it.
@Suite struct CompositionTests {
    @Test func aDatabaseThatCannotBeOpenedNamesTheFieldAndTheFix() throws {
        let error = try #require(throws: ConfigurationError.self) {
            try openStore(.sqlite(path: "/nonexistent-directory/perimeter/perimeter.db"), file: "perimeter.yaml")
        }
        #expect(error.field == "database")
        #expect(error.file == "perimeter.yaml")
        #expect(error.description.contains("/nonexistent-directory/perimeter/perimeter.db"))
    }

    @Test func serveCheckReportsEveryReferenceWithItsStoreAndNeverAValue() async throws {
        let value = "sk-live-composition-check-0123456789"
        var configuration = GatewayConfiguration()
        configuration.database = .memory
        configuration.providers = [
            ProviderConfiguration(
                name: "openai", kind: .openAI, baseURL: "https://api.example/v1",
                apiKey: SecretReference(scheme: "env", path: "OPENAI_KEY"), models: [ModelPattern("gpt-*")]),
            ProviderConfiguration(
                name: "anthropic", kind: .anthropic, baseURL: "https://anthropic.example",
                apiKey: SecretReference(scheme: "env", path: "MISSING_KEY"), models: [ModelPattern("claude-*")]),
        ]
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let report = try await SecretCheckReport.run(
            configuration: configuration,
            environment: ["OPENAI_KEY": value, "PERIMETER_MASTER_KEY": Data(repeating: 7, count: 32).base64EncodedString()], logger: logger)

        #expect(!report.ok)
        #expect(report.secrets.map(\.reference) == ["env:OPENAI_KEY", "env:MISSING_KEY"])
        #expect(report.secrets.map(\.status) == ["ok", "error"])
        #expect(report.secrets.map(\.usedBy) == [["provider:openai"], ["provider:anthropic"]])
        let json = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
        #expect(!json.contains(value))
    }
}
