import Foundation
import PerimeterCore
import Testing

@testable import PerimeterScanner

@Suite struct ClassificationTests {
    func findings(_ text: String) -> [Finding] {
        Scanner().findings(in: ScanItem(path: "notes.txt", content: Array(text.utf8), origin: .workingTree, isCommitted: false))
    }

    @Test func withoutAGatewayPerimeterKeysAreManagedByFormatAndTheRestProviderKeys() {
        var keys = FakeKeys(seed: 5)
        let found = findings(
            "a \(keys.perimeterKey())\nb \(keys.openAIProject())\nc \(keys.groq())\nd \(TokenFormat.makeAdminToken().revealed)\n")
        #expect(found.map(\.classification) == [.managed, .providerKey, .providerKey, .managed])
    }

    @Test func theGatewaysMarksDecide() {
        var keys = FakeKeys(seed: 6)
        let virtualKey = keys.perimeterKey(env: "prod")
        let held = keys.anthropic()
        let other = keys.anthropic()
        let unknownVirtual = keys.perimeterKey(env: "dev")
        var found = findings("\(virtualKey)\n\(held)\n\(other)\n\(unknownVirtual)\n")
        let salt = KeyFingerprint.makeSalt()
        ManagedKeys(
            keys: [.init(id: "key_1", fingerprint: KeyFingerprint.fingerprint(of: KeyDigest(of: virtualKey), salt: salt))],
            credentials: [.init(reference: "store:anthropic", fingerprint: KeyFingerprint.fingerprint(of: KeyDigest(of: held), salt: salt))]
        ).mark(&found, salt: salt)
        #expect(found.map(\.classification) == [.managed, .providerKeyHeldByGateway, .providerKey, .managed])
        #expect(found.map(\.managedKeyID) == ["key_1", nil, nil, nil])
    }

    @Test func everyReportCarriesTheClassification() throws {
        var keys = FakeKeys(seed: 7)
        var found = findings("k = '\(keys.groq())'\n")
        found[0].credentialReference = "env:GROQ"
        let json = try JSONSerialization.jsonObject(with: JSONReport.render(found, summary: [:], gateway: "http://gw")) as? [String: Any]
        let first = (json?["findings"] as? [[String: Any]])?.first
        #expect(first?["classification"] as? String == "provider_key_held_by_gateway")
        #expect(json?["classified_by"] as? String == "gateway")
        let unchecked = try JSONSerialization.jsonObject(with: JSONReport.render(found, summary: [:], gateway: nil)) as? [String: Any]
        #expect(unchecked?["classified_by"] as? String == "format")
        let sarif = String(decoding: try SARIFReport.render(found, rules: RuleCatalog.all, toolVersion: "1.0.0"), as: UTF8.self)
        #expect(sarif.contains(#""classification" : "provider_key_held_by_gateway""#))
        #expect(TextReport.headers.last == "CLASS" && TextReport.rows(found)[0].last == "provider_key_held_by_gateway")
    }
}
