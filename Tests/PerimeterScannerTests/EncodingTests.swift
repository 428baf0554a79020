import Foundation
import Testing

@testable import PerimeterScanner

/// Keys inside encodings, one level deep: found, located at the encoded text, and tagged with the
/// decoding that revealed them; look-alikes that decode to nothing of the kind stay quiet.
@Suite struct EncodingTests {
    let detector = Detector()

    static func base64(_ text: String, urlSafe: Bool = false, padded: Bool = true) -> String {
        var encoded = Data(text.utf8).base64EncodedString()
        if urlSafe { encoded = encoded.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_") }
        if !padded { encoded = encoded.replacingOccurrences(of: "=", with: "") }
        return encoded
    }

    @Test func aKubernetesSecretsDataValuesAreDecoded() throws {
        var keys = FakeKeys(seed: 41)
        let (project, mistral) = (keys.openAIProject(), keys.text(32))
        let manifest = """
            apiVersion: v1
            kind: Secret
            metadata:
              name: llm-keys
            type: Opaque
            data:
              OPENAI_API_KEY: \(Self.base64(project))
              MISTRAL_API_KEY: \(Self.base64(mistral))
            """
        let matches = detector.matches(in: manifest, path: "deploy/secret.yaml")
        #expect(matches.map(\.ruleID) == ["openai-api-key", "mistral-api-key"])
        #expect(matches.map(\.text) == [project, mistral])
        #expect(matches.allSatisfy { $0.encoding == .base64 })
        // Located at the encoded value: line 7, after "  OPENAI_API_KEY: ".
        #expect(matches.first.map { [$0.line, $0.column] } == [7, 19])
    }

    @Test func aDockerConfigsAuthStringIsDecoded() {
        var keys = FakeKeys(seed: 42)
        let token = keys.anthropic()
        let config = #"{"auths":{"registry.example.com":{"auth":"\#(Self.base64("build:" + token))"}}}"#
        let matches = detector.matches(in: config, path: ".docker/config.json")
        #expect(matches.map(\.text) == [token] && matches.first?.encoding == .base64)
    }

    @Test(arguments: [(false, true), (true, false), (true, true), (false, false)])
    func base64OfEitherAlphabetWithOrWithoutPadding(urlSafe: Bool, padded: Bool) {
        var keys = FakeKeys(seed: 43)
        // Long enough that the encoding holds both + and / (or - and _) somewhere, whatever the seed.
        let text = "config: " + keys.groq() + " " + keys.text(40)
        let encoded = Self.base64(text, urlSafe: urlSafe, padded: padded)
        let matches = detector.matches(in: "blob = \"\(encoded)\"\n")
        #expect(matches.map(\.ruleID) == ["groq-api-key"] && matches.first?.encoding == .base64, "\(encoded)")
    }

    @Test func percentEncodedKeysAreDecoded() {
        var keys = FakeKeys(seed: 44)
        let key = keys.anthropic()
        let escaped = key.utf8.map { byte in byte == UInt8(ascii: "-") ? "%2D" : String(UnicodeScalar(byte)) }.joined()
        let line = "curl 'https://proxy.example.com/forward?target=anthropic&key=\(escaped)'\n"
        let matches = detector.matches(in: line, path: "notes.md")
        #expect(matches.map(\.text) == [key] && matches.first?.encoding == .percent)
        #expect(matches.first?.column == line.utf8.count - escaped.utf8.count - 1)
    }

    @Test func jsonUnicodeEscapesAreDecoded() {
        var keys = FakeKeys(seed: 45)
        let key = keys.huggingFace()
        let escaped = key.unicodeScalars.prefix(4).map { String(format: "\\u%04x", $0.value) }.joined() + key.dropFirst(4)
        let matches = detector.matches(in: #"{"token": "\#(escaped)"}"#, path: "cache.json")
        #expect(matches.map(\.text) == [key] && matches.first?.encoding == .jsonUnicode)
    }

    @Test func quotedPrintableMailBodiesAreDecoded() {
        var keys = FakeKeys(seed: 46)
        let key = keys.openAIProject()
        let split = key.index(key.startIndex, offsetBy: 40)
        let mail = """
            Content-Type: text/plain; charset=utf-8
            Content-Transfer-Encoding: quoted-printable

            Here is the key for the demo: OPENAI_API_KEY=3D\(key[..<split])=
            \(key[split...])
            Thanks!
            """
        let matches = detector.matches(in: mail, path: "inbox/demo.eml")
        #expect(matches.map(\.text) == [key] && matches.first?.encoding == .quotedPrintable)
        #expect(matches.first?.line == 4)
    }

    @Test func keysSplitByAContinuationOrAConcatenationAreJoined() {
        var keys = FakeKeys(seed: 47)
        let (a, b, c, d) = (keys.groq(), keys.gemini(), keys.anthropic(), keys.openAIProject())
        let (a1, a2) = (a.prefix(20), a.dropFirst(20))
        let (b1, b2) = (b.prefix(15), b.dropFirst(15))
        let (c1, c2) = (c.prefix(50), c.dropFirst(50))
        let (d1, d2) = (d.prefix(30), d.dropFirst(30))
        let text = """
            export GROQ_API_KEY="\(a1)\\
                \(a2)"
            key = "\(b1)" + "\(b2)"
            other = ('\(c1)' '\(c2)')
            $k = "\(d1)" . "\(d2)";
            """
        let matches = detector.matches(in: text, path: "setup.txt")
        #expect(matches.map(\.text) == [a, b, c, d])
        #expect(matches.allSatisfy { $0.encoding == .joined })
        #expect(matches.map(\.line) == [1, 3, 4, 5])
    }

    @Test func aKeyInANotebooksCellOutputIsFound() {
        var keys = FakeKeys(seed: 48)
        let key = keys.openAIProject()
        let notebook = """
            {"cells": [{"cell_type": "code", "source": ["print(os.environ['OPENAI_API_KEY'])"],
              "outputs": [{"name": "stdout", "output_type": "stream", "text": ["\(key)\\n"]}]}],
             "nbformat": 4}
            """
        let matches = detector.matches(in: notebook, path: "explore.ipynb")
        #expect(matches.map(\.text) == [key] && matches.first?.encoding == nil && matches.first?.line == 2)
    }

    /// Base64 of binary data, long identifiers, paths and prose: nothing decodes into a key.
    @Test func lookAlikesDecodeToNothing() {
        var random = SeededBytes(state: 0x9E37_79B9)
        var text = ""
        for _ in 0..<200 {
            let bytes = (0..<48).map { _ in UInt8.random(in: 0...255, using: &random) }
            text += "blob: \(Data(bytes).base64EncodedString())\n"
        }
        text += "let aVeryLongIdentifierNameThatLooksLikeBase64ButIsNot_withUnderscores = 1\n"
        text += "path = /usr/share/some/long/directory/structure/for/testing/base64runs\n"
        text += "note: \(Self.base64("This is a perfectly ordinary sentence with no key in it at all."))\n"
        text += "width: 100%; margin: 0 auto; url(%7B%7D) \\u00e9t\\u00e9\n"
        #expect(detector.matches(in: text, path: "data.yaml").isEmpty)
    }

    /// One level deep: base64 of base64 is not opened twice.
    @Test func onlyOneLevelDeep() {
        var keys = FakeKeys(seed: 49)
        let key = keys.groq()
        let twice = Self.base64(Self.base64("GROQ " + key + " and some more text"))
        #expect(detector.matches(in: "v: \(twice)\n").isEmpty)
    }
}

extension EncodingTests {
    /// PHP's json_encode writes `/` as `\/`: an AWS secret with one in it is still read whole.
    @Test func anEscapedSlashInJSONIsDecoded() {
        var keys = FakeKeys(seed: 50)
        let secret = keys.text(20) + "/" + keys.text(19)
        let json = #"{"aws_secret_access_key":"\#(secret.replacingOccurrences(of: "/", with: "\\/"))"}"#
        let matches = detector.matches(in: json, path: "config.json")
        #expect(matches.map(\.text) == [secret] && matches.first?.encoding == .jsonUnicode)
    }
}

/// A fixed sequence of random-looking numbers, so a look-alike that slips through fails every run.
struct SeededBytes: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}
