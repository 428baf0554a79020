import Foundation
import PerimeterCore
import PerimeterSQLite
import PerimeterStorage
import Testing

@testable import PerimeterSecrets

@Suite struct EnvelopeTests {
    let master = MasterKey.generate()
    let value = Secret("sk-proj-envelope-test-value-0123456789")
    let time = Date(timeIntervalSince1970: 1_790_000_000)

    @Test func sealsAndOpens() throws {
        let sealed = try Envelope.seal(value, name: "openai", version: 3, at: time, with: master)
        #expect(try Envelope.open(sealed, with: master) == value)
        #expect(sealed.masterKeyID == master.id)
    }

    @Test func eachSealUsesItsOwnDataKeyAndNonce() throws {
        let first = try Envelope.seal(value, name: "openai", version: 1, at: time, with: master)
        let second = try Envelope.seal(value, name: "openai", version: 1, at: time, with: master)
        #expect(first.ciphertext != second.ciphertext)
        #expect(first.wrappedKey != second.wrappedKey)
    }

    @Test func everyFlippedCiphertextByteIsDetected() throws {
        let sealed = try Envelope.seal(value, name: "openai", version: 1, at: time, with: master)
        for index in sealed.ciphertext.indices {
            var tampered = sealed
            tampered.ciphertext[index] ^= 0x01
            #expect(throws: EnvelopeError.tampered(name: "openai", version: 1, part: "ciphertext")) {
                try Envelope.open(tampered, with: master)
            }
        }
    }

    @Test func everyFlippedWrappedKeyByteIsDetected() throws {
        let sealed = try Envelope.seal(value, name: "openai", version: 1, at: time, with: master)
        for index in sealed.wrappedKey.indices {
            var tampered = sealed
            tampered.wrappedKey[index] ^= 0x80
            #expect(throws: EnvelopeError.tampered(name: "openai", version: 1, part: "wrapped data key")) {
                try Envelope.open(tampered, with: master)
            }
        }
    }

    @Test func truncatedRecordsAreDetected() throws {
        let sealed = try Envelope.seal(value, name: "openai", version: 1, at: time, with: master)
        for length in [0, 5, 12, sealed.ciphertext.count - 1] {
            var truncated = sealed
            truncated.ciphertext = Array(sealed.ciphertext.prefix(length))
            #expect(throws: EnvelopeError.self) { try Envelope.open(truncated, with: master) }
        }
        var truncatedKey = sealed
        truncatedKey.wrappedKey = Array(sealed.wrappedKey.prefix(20))
        #expect(throws: EnvelopeError.tampered(name: "openai", version: 1, part: "wrapped data key")) {
            try Envelope.open(truncatedKey, with: master)
        }
    }

    @Test func aWrongMasterKeyIsNamedAsSuch() throws {
        let sealed = try Envelope.seal(value, name: "openai", version: 1, at: time, with: master)
        let other = MasterKey.generate()
        #expect(throws: EnvelopeError.wrongMasterKey(name: "openai", sealedWith: master.id, loaded: other.id)) {
            try Envelope.open(sealed, with: other)
        }
        // Even with a forged key id, the other key cannot open the record.
        var forged = sealed
        forged.masterKeyID = other.id
        #expect(throws: EnvelopeError.tampered(name: "openai", version: 1, part: "wrapped data key")) {
            try Envelope.open(forged, with: other)
        }
    }

    @Test func aRecordMovedToAnotherNameOrVersionDoesNotOpen() throws {
        let sealed = try Envelope.seal(value, name: "openai", version: 1, at: time, with: master)
        var renamed = sealed
        renamed.name = "anthropic"
        #expect(throws: EnvelopeError.self) { try Envelope.open(renamed, with: master) }
        var renumbered = sealed
        renumbered.version = 2
        #expect(throws: EnvelopeError.self) { try Envelope.open(renumbered, with: master) }
    }

    @Test func masterKeysParseFromBase64Only() throws {
        let key = MasterKey.generate()
        #expect(try MasterKey(base64: key.base64.revealed + "\n").id == key.id)
        #expect(throws: MasterKeyError.notBase64) { try MasterKey(base64: "not base64!") }
        #expect(throws: MasterKeyError.wrongLength(16)) { try MasterKey(base64: Data(count: 16).base64EncodedString()) }
        #expect(!"\(key)".contains(key.base64.revealed))
        #expect(key.id.count == 16)
    }
}

@Suite struct MasterKeyLoaderTests {
    let directory: String = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("perimeter-mk-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    @Test func createsAPrivateKeyFileOnceAndReadsItAfterwards() throws {
        let path = directory + "/perimeter.master-key"
        let first = try MasterKeyLoader.load(environment: [:], defaultFile: path)
        #expect(first.createdFile == path)
        let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
        #expect(mode == 0o600)
        let second = try MasterKeyLoader.load(environment: [:], defaultFile: path)
        #expect(second.createdFile == nil)
        #expect(second.key.id == first.key.id)
    }

    @Test func refusesAKeyFileOthersCanRead() throws {
        let path = directory + "/open.key"
        FileManager.default.createFile(
            atPath: path, contents: Data(MasterKey.generate().base64.revealed.utf8), attributes: [.posixPermissions: 0o644])
        #expect(throws: MasterKeyLoadError.tooOpen(path, mode: "644")) {
            try MasterKeyLoader.load(environment: ["PERIMETER_MASTER_KEY_FILE": path], defaultFile: nil)
        }
        chmod(path, 0o640)
        #expect(throws: MasterKeyLoadError.tooOpen(path, mode: "640")) {
            try MasterKeyLoader.load(environment: [:], defaultFile: path)
        }
    }

    @Test func theEnvironmentWinsAndIsChecked() throws {
        let key = MasterKey.generate()
        let loaded = try MasterKeyLoader.load(
            environment: ["PERIMETER_MASTER_KEY": key.base64.revealed], defaultFile: directory + "/unused")
        #expect(loaded.key.id == key.id)
        #expect(!FileManager.default.fileExists(atPath: directory + "/unused"))
        #expect(throws: MasterKeyLoadError.self) {
            try MasterKeyLoader.load(environment: ["PERIMETER_MASTER_KEY": "c2hvcnQ="], defaultFile: nil)
        }
        #expect(throws: MasterKeyLoadError.missingFile(directory + "/absent")) {
            try MasterKeyLoader.load(environment: ["PERIMETER_MASTER_KEY_FILE": directory + "/absent"], defaultFile: nil)
        }
    }
}

@Suite struct BuiltInSecretStoreTests {
    @Test(arguments: [false, true])
    func putRotateListDelete(sqlite: Bool) async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("perimeter-bis-\(UUID().uuidString).db").path
        let storage: any SealedSecretStore = sqlite ? try SQLiteStore(path: path) : MemoryStore()
        let store = BuiltInSecretStore(storage: storage, master: MasterKey.generate())
        let reference = try SecretReference(parsing: "store:openai")

        await #expect(throws: SecretStoreError.self) { try await store.fetch(reference) }
        let first = try await store.put(name: "openai", value: Secret("sk-first-value-abcdefghijklmnop"))
        #expect(first.latestVersion == 1)
        await #expect(throws: BuiltInSecretStoreError.exists("openai")) {
            try await store.put(name: "openai", value: Secret("sk-other"))
        }
        #expect(try await store.fetch(reference).secret.revealed == "sk-first-value-abcdefghijklmnop")
        let second = try await store.rotate(name: "openai", value: Secret("sk-second-value-abcdefghijklmnop"))
        #expect(second.latestVersion == 2 && second.versions == 2)
        let fetched = try await store.fetch(reference)
        #expect(fetched.secret.revealed == "sk-second-value-abcdefghijklmnop")
        #expect(fetched.version == "2")
        #expect(try await store.list().map(\.name) == ["openai"])

        await #expect(throws: BuiltInSecretStoreError.notFound("absent")) {
            try await store.rotate(name: "absent", value: Secret("x"))
        }
        await #expect(throws: BuiltInSecretStoreError.invalidName("../etc")) {
            try await store.put(name: "../etc", value: Secret("x"))
        }
        await #expect(throws: BuiltInSecretStoreError.emptyValue) { try await store.put(name: "empty", value: Secret(" \n")) }

        if sqlite {
            // The database file holds ciphertext only.
            for suffix in ["", "-wal"] {
                let bytes = FileManager.default.contents(atPath: path + suffix) ?? Data()
                #expect(bytes.range(of: Data("value-abcdefghijklmnop".utf8)) == nil)
            }
        }
        try await store.delete(name: "openai")
        await #expect(throws: SecretStoreError.self) { try await store.fetch(reference) }
        await #expect(throws: BuiltInSecretStoreError.notFound("openai")) { try await store.delete(name: "openai") }
    }

    @Test func anotherMasterKeyIsReportedNotMisread() async throws {
        let storage = MemoryStore()
        let original = BuiltInSecretStore(storage: storage, master: MasterKey.generate())
        _ = try await original.put(name: "openai", value: Secret("sk-value"))
        let other = BuiltInSecretStore(storage: storage, master: MasterKey.generate())
        #expect(try await other.secretsSealedWithOtherKeys() == ["openai"])
        do {
            _ = try await other.fetch(try SecretReference(parsing: "store:openai"))
            Issue.record("a wrong master key must not open the secret")
        } catch {
            #expect("\(error)".contains("master key"))
        }
    }
}
