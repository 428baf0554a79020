import Testing

@testable import PerimeterScanner

@Suite struct DetectorTests {
    let detector = Detector()

    @Test func reportsLineAndColumn() {
        var keys = FakeKeys(seed: 1)
        let key = keys.groq()
        let matches = detector.matches(in: "a\nbb\n   client = Groq(api_key='\(key)')\n")
        #expect(matches.map(\.line) == [3])
        #expect(matches.map(\.column) == [27])
    }

    @Test func anInlineAllowCommentSilencesItsLineOnly() {
        var keys = FakeKeys(seed: 2)
        let text = "a = '\(keys.gemini())'  # perimeter:allow test fixture\nb = '\(keys.gemini())'\n"
        #expect(detector.matches(in: text).map(\.line) == [2])
    }

    @Test func findsKeysInsideNotebookJSONAndMinifiedScript() {
        var keys = FakeKeys(seed: 3)
        let token = keys.huggingFace()
        let notebook = #"{"cells":[{"source":["import os\n","os.environ[\"HF_TOKEN\"] = \"\#(token)\"\n"]}]}"#
        #expect(detector.matches(in: notebook, path: "analysis.ipynb").map(\.text) == [token])
        let escaped = #"{"source":"x\n\#(token)"}"#
        #expect(detector.matches(in: escaped, path: "a.ipynb").map(\.text) == [token])
        let gemini = keys.gemini()
        let minified = String(repeating: "var a=function(b){return b*2};", count: 2000) + "const k=\"\(gemini)\";" + "x();"
        let matches = detector.matches(in: minified, path: "app.min.js")
        #expect(matches.map(\.text) == [gemini] && matches.first?.line == 1)
    }

    @Test func overlappingRulesKeepTheFirstListed() {
        var keys = FakeKeys(seed: 4)
        let project = keys.openAIProject()
        #expect(detector.matches(in: "OPENAI_API_KEY=\(project)").map(\.ruleID) == ["openai-api-key"])
        // In a .env file, the provider rule wins over the generic one for the same value.
        #expect(detector.matches(in: "OPENAI_API_KEY=\(project)\n", path: ".env").map(\.ruleID) == ["openai-api-key"])
    }

    @Test func dotenvFilesAreFindingsOnlyWhenCommittedAndNotTemplates() {
        let plain = "DEBUG=1\n"
        #expect(detector.matches(in: plain, path: ".env", isCommitted: true).map(\.ruleID) == ["env-file-committed"])
        #expect(detector.matches(in: plain, path: "deploy/.env.production", isCommitted: true).map(\.ruleID) == ["env-file-committed"])
        #expect(detector.matches(in: plain, path: ".env", isCommitted: false).isEmpty)
        for template in [".env.example", ".env.sample", ".env.template", "config/example.env"] {
            #expect(detector.matches(in: "API_KEY=your-api-key-here\n", path: template, isCommitted: true).isEmpty, "\(template)")
        }
        #expect(detector.matches(in: plain, path: "environment.py", isCommitted: true).isEmpty)
    }

    @Test func genericEnvSecretsNeedASecretNameAndEntropy() {
        var keys = FakeKeys(seed: 5)
        let value = keys.text(32)
        let env = """
            # comment
            export SERVICE_TOKEN="\(value)"
            DATABASE_HOST=db.internal.example.org
            WEBHOOK_SECRET=${FROM_VAULT_AT_START_OF_RUN}
            API_KEY=changeme-changeme-changeme
            LOG_LEVEL=\(keys.text(32))
            SHORT_SECRET=abc
            """
        let matches = detector.matches(in: env, path: ".env.local")
        #expect(matches.filter { $0.ruleID == "generic-env-secret" }.map(\.text) == [value])
        #expect(matches.filter { $0.ruleID == "generic-env-secret" }.map(\.line) == [2])
        #expect(detector.matches(in: "SERVICE_TOKEN=\(value)\n", path: "settings.py").isEmpty)
    }

    @Test func placeholdersAndEntropy() {
        #expect(PlaceholderFilter.isPlaceholder(Array("AKIAIOSFODNN7EXAMPLE".utf8)))
        #expect(PlaceholderFilter.isPlaceholder(Array("your-api-key-here".utf8)))
        #expect(PlaceholderFilter.isPlaceholder(Array("abcXXXXXXXXdef".utf8)))
        #expect(PlaceholderFilter.isPlaceholder(Array("sk-FAKE-key".utf8)) && PlaceholderFilter.isPlaceholder(Array("your_key".utf8)))
        // Short words inside random text, or in mixed case, are not placeholders: real keys hold them.
        #expect(!PlaceholderFilter.isPlaceholder(Array("k2FakEOx2A2rKCarwSiPMAsB3TR5Qd37".utf8)))
        #expect(!PlaceholderFilter.isPlaceholder(Array("hf_nvyourPAKqdcPGwJudeTABRcaXlHOflZ".utf8)))
        #expect(!PlaceholderFilter.isPlaceholder(Array("b46444444bc309f65774fb75a6db48fc".utf8)))
        #expect(PlaceholderFilter.isPlaceholder(Array("key0123456789".utf8)))
        var keys = FakeKeys(seed: 6)
        #expect(!PlaceholderFilter.isPlaceholder(Array(keys.text(40).utf8)))
        #expect(Entropy.bitsPerByte(Array("aaaa".utf8)) == 0)
        #expect(Entropy.bitsPerByte(Array("abcd".utf8)) == 2)
    }
}
