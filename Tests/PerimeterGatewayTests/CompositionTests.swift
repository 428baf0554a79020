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
    @Test func aDatabaseThatCannotBeOpenedNamesTheFieldAndTheFix() async throws {
        var configuration = GatewayConfiguration()
        configuration.database = .sqlite(path: "/nonexistent-directory/perimeter/perimeter.db")
        configuration.sourceFile = "perimeter.yaml"
        let error = try await #require(throws: ConfigurationError.self) {
            try await openStore(configuration, environment: [:], logger: Logger(label: "test"))
        }
        #expect(error.field == "database")
        #expect(error.file == "perimeter.yaml")
        #expect(error.description.contains("/nonexistent-directory/perimeter/perimeter.db"))
    }

    @Test func aPostgreSQLServerThatIsNotThereIsAClearErrorNotAHang() async throws {
        var configuration = GatewayConfiguration()
        try ConfigurationLoader.setDatabase(
            "postgres://perimeter@127.0.0.1:1/perimeter?sslmode=disable", field: "database", on: &configuration)
        configuration.databaseStartTimeout = .seconds(2)
        let started = ContinuousClock.now
        let error = try await #require(throws: ConfigurationError.self) {
            try await openStore(configuration, environment: [:], logger: Logger(label: "test"))
        }
        #expect(error.field == "database")
        #expect(error.description.contains("postgres://perimeter@127.0.0.1:1/perimeter"))
        // Not a hang: well under a minute even when the parallel suites load the machine (alone, milliseconds).
        #expect(ContinuousClock.now - started < .seconds(30))
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
