import PerimeterCore
import Testing

@testable import PerimeterScanner

@Suite struct ManagedKeysTests {
    @Test func marksFindingsWhoseFingerprintTheGatewaySent() {
        var keys = FakeKeys(seed: 31)
        let virtualKey = keys.perimeterKey(env: "prod")
        let credential = keys.anthropic()
        let stranger = keys.groq()
        let text = "a = '\(virtualKey)'\nb = '\(credential)'\nc = '\(stranger)'\n"
        var findings = Scanner().findings(in: ScanItem(path: "x.py", content: Array(text.utf8), origin: .workingTree, isCommitted: true))
        let salt = KeyFingerprint.makeSalt()
        let answer = ManagedKeys(
            keys: [.init(id: "key_1", fingerprint: KeyFingerprint.fingerprint(of: KeyDigest(of: virtualKey), salt: salt).uppercased())],
            credentials: [
                .init(reference: "store:anthropic", fingerprint: KeyFingerprint.fingerprint(of: KeyDigest(of: credential), salt: salt))
            ])
        answer.mark(&findings, salt: salt)
        #expect(findings.map(\.managedKeyID) == ["key_1", nil, nil])
        #expect(findings.map(\.credentialReference) == [nil, "store:anthropic", nil])
        // Another salt: nothing matches.
        answer.mark(&findings, salt: KeyFingerprint.makeSalt())
        #expect(findings.allSatisfy { $0.managedKeyID == nil && $0.credentialReference == nil })
    }
}
