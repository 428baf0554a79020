import PerimeterAdminModels
import Testing

@testable import PerimeterConfiguration

@Suite struct ConsoleConfigurationTests {
    func load(_ yaml: String) throws -> GatewayConfiguration {
        var configuration = GatewayConfiguration()
        try ConfigurationLoader.apply(yaml: yaml, file: "perimeter.yaml", to: &configuration)
        return configuration
    }

    func failingField(_ yaml: String) -> String? {
        do {
            _ = try load(yaml)
            return nil
        } catch let error as ConfigurationError {
            return error.field
        } catch {
            return "not a ConfigurationError"
        }
    }

    @Test func theConsoleIsOnByDefaultAndReadsItsSettings() throws {
        let defaults = try load("listen: 127.0.0.1:9000")
        #expect(defaults.console == ConsoleSettings())
        #expect(defaults.console.enabled && defaults.console.sessionIdle == 1800 && defaults.console.sessionLifetime == 43200)
        let set = try load("console: { enabled: false, session_idle: 10m, session_lifetime: 2h, secure_cookie: always }")
        #expect(!set.console.enabled && set.console.sessionIdle == 600 && set.console.sessionLifetime == 7200)
        #expect(set.console.secureCookie == .always)
    }

    @Test func refusesBadConsoleSettings() {
        #expect(failingField("console: { enabled: maybe }") == "console.enabled")
        #expect(failingField("console: { session_idle: 5s }") == "console.session_idle")
        #expect(failingField("console: { session_lifetime: 90d }") == "console.session_lifetime")
        #expect(failingField("console: { secure_cookie: sometimes }") == "console.secure_cookie")
        #expect(failingField("console: { theme: dark }") != nil)
    }
}
