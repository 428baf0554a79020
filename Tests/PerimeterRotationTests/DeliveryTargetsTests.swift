import Foundation
import PerimeterCore
import PerimeterSecrets
import Testing

@testable import PerimeterRotation
@testable import PerimeterStorage

/// Which `deliver_to` targets a gateway accepts, for the remote stores.
@Suite struct DeliveryTargetsTests {
    struct Writable: WritableSecretStore {
        func fetch(_ reference: SecretReference) async throws -> FetchedSecret { FetchedSecret(Secret("x")) }
        func write(_ secret: Secret, to reference: SecretReference) async throws -> String? { "1" }
    }

    let builtIn = BuiltInSecretStore(storage: MemoryStore(), master: MasterKey.generate())

    func outcome(_ targets: DeliveryTargets, _ text: String) -> String {
        do {
            return "ok " + (try targets.validate(text)).description
        } catch let error as GatewayError {
            if case .conflict = error { return "conflict" }
            if case .invalidRequest = error { return "invalid" }
            return "\(error)"
        } catch {
            return "\(error)"
        }
    }

    @Test func keyVaultTargetsNeedTheStoreAndNoVersion() {
        let unconfigured = DeliveryTargets(builtIn: builtIn, remote: [:])
        #expect(outcome(unconfigured, "azure-kv:my-vault/app-key") == "conflict")
        // The identifier URL is a Key Vault target too: refused as one, never written through a missing store.
        #expect(outcome(unconfigured, "https://my-vault.vault.azure.net/secrets/app-key") == "conflict")
        let configured = DeliveryTargets(builtIn: builtIn, remote: ["azure-kv": Writable()])
        #expect(outcome(configured, "azure-kv:my-vault/app-key") == "ok azure-kv:my-vault/app-key")
        #expect(outcome(configured, "https://my-vault.vault.azure.net/secrets/app-key") == "ok azure-kv:my-vault/app-key")
        #expect(outcome(configured, "azure-kv:my-vault/app-key/4387e9f3d6e14c459867679a90fd0f79") == "invalid")
        #expect(outcome(configured, "azure-kv:my_vault/app-key") == "invalid")
    }

    @Test func secretManagerTargetsNeedTheStoreAndNoVersion() {
        let target = "gcp-sm:projects/my-project/secrets/app-key"
        #expect(outcome(DeliveryTargets(builtIn: builtIn, remote: [:]), target) == "conflict")
        let configured = DeliveryTargets(builtIn: builtIn, remote: ["gcp-sm": Writable()])
        #expect(outcome(configured, target) == "ok " + target)
        #expect(outcome(configured, target + "/versions/3") == "invalid")
        #expect(outcome(configured, target + "/versions/latest") == "invalid")
        #expect(outcome(configured, "gcp-sm:projects/My-Project/secrets/app-key") == "invalid")
    }
}
