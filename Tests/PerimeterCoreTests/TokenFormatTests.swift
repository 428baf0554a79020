import Testing

@testable import PerimeterCore

@Suite struct TokenFormatTests {
    @Test func virtualKeysHaveTheDocumentedShape() throws {
        let key = TokenFormat.makeVirtualKey(environment: "prod").revealed
        #expect(key.hasPrefix("prm_prod_"))
        #expect(key.count == "prm_prod_".count + 32 + 6)
        let parsed = try #require(TokenFormat.parseVirtualKey(key))
        #expect(parsed.environment == "prod")
        #expect(parsed.random.count == 32)
    }

    @Test func environmentsWithDashesParse() throws {
        let key = TokenFormat.makeVirtualKey(environment: "eu-west-2").revealed
        #expect(TokenFormat.parseVirtualKey(key)?.environment == "eu-west-2")
    }

    @Test func everySingleCharacterChangeBreaksTheChecksum() {
        let key = Array(TokenFormat.makeVirtualKey(environment: "dev").revealed.utf8)
        var accepted = 0
        for index in key.indices {
            var tampered = key
            tampered[index] = tampered[index] == UInt8(ascii: "a") ? UInt8(ascii: "b") : UInt8(ascii: "a")
            if TokenFormat.parseVirtualKey(String(decoding: tampered, as: UTF8.self)) != nil { accepted += 1 }
        }
        #expect(accepted == 0)
    }

    @Test(arguments: [
        "", "prm_", "prm_prod_", "sk-proj-abc", "prm_PROD_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "prm_prod_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "prm_prod_short1",
    ])
    func rejectsNonKeys(candidate: String) {
        #expect(TokenFormat.parseVirtualKey(candidate) == nil)
    }

    @Test func keysAreUnique() {
        let keys = Set((0..<1000).map { _ in TokenFormat.makeVirtualKey(environment: "dev").revealed })
        #expect(keys.count == 1000)
    }

    @Test func randomnessUsesTheWholeAlphabet() {
        var generator = SystemRandomNumberGenerator()
        let sample = Base62.random(count: 20_000, using: &generator)
        #expect(Set(sample).count == 62)
    }

    @Test func adminTokensValidate() {
        let token = TokenFormat.makeAdminToken().revealed
        #expect(token.hasPrefix("prmadm_"))
        #expect(TokenFormat.isValidAdminToken(token))
        // Another last character breaks the checksum (one that differs: a random token can end in "x").
        #expect(!TokenFormat.isValidAdminToken(String(token.dropLast()) + (token.hasSuffix("x") ? "y" : "x")))
        #expect(TokenFormat.parseVirtualKey(token) == nil)
    }

    @Test func displayPrefixShowsSixRandomCharacters() {
        let key = TokenFormat.makeVirtualKey(environment: "staging")
        let prefix = TokenFormat.displayPrefix(of: key)
        #expect(prefix.count == "prm_staging_".count + 6)
        #expect(key.revealed.hasPrefix(prefix))
    }

    @Test(arguments: [
        ("prod", true), ("eu-west-1", true), ("a", true), ("-x", false), ("Prod", false), ("a_b", false), ("", false),
        (String(repeating: "a", count: 25), false),
    ])
    func environmentNames(name: String, valid: Bool) {
        #expect(TokenFormat.isValidEnvironment(name) == valid)
    }

    @Test func crc32MatchesTheStandardCheckValue() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
    }

    /// CRC32C's check value and the vectors of RFC 3720 (iSCSI), appendix B.4.
    @Test func crc32cMatchesTheCastagnoliVectors() {
        #expect(CRC32.castagnoli.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32.castagnoli.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32.castagnoli.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32.castagnoli.checksum((0..<32).map(UInt8.init)) == 0x46DD_794E)
        #expect(CRC32.castagnoli.checksum([UInt8]()) == 0)
    }
}
