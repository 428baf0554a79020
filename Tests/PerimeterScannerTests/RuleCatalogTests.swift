import PerimeterCore
import Testing

@testable import PerimeterScanner

/// True and false positives for every rule: each sample is scanned alone, as the text of a file.
@Suite struct RuleCatalogTests {
    struct Sample: CustomTestStringConvertible, Sendable {
        var rule: String
        /// Texts in which the rule must find exactly the `secret`.
        var found: [(text: String, secret: String)]
        /// Texts in which the rule must find nothing.
        var ignored: [String]
        var path = "config.txt"
        var testDescription: String { rule }
    }

    static let samples: [Sample] = {
        var keys = FakeKeys(seed: 42)
        func sample(_ rule: String, _ secrets: [String], context: (String) -> String = { "key = \"\($0)\"" }, ignored: [String])
            -> Sample
        {
            Sample(rule: rule, found: secrets.map { (context($0), $0) }, ignored: ignored)
        }
        let project = keys.openAIProject()
        let legacy = keys.openAILegacy()
        let anthropic = keys.anthropic()
        let hex64 = keys.text(64, from: FakeKeys.lowerHex)
        let mistral = keys.text(32)
        let cohere = keys.text(40)
        let deepseek = "sk-" + keys.text(32, from: FakeKeys.lowerHex)
        let azure = keys.text(32, from: FakeKeys.lowerHex)
        let awsSecret = keys.text(40, from: FakeKeys.base64)
        let perimeter = keys.perimeterKey(env: "prod")
        let admin = TokenFormat.makeAdminToken().revealed
        return [
            sample(
                "openai-api-key", [project, legacy, "sk-" + "svcacct-" + keys.text(60) + "T3Blbk" + "FJ" + keys.text(60)],
                ignored: [
                    "sk-...xxxx", "T3Blbk" + "FJ", "sk-" + "proj-" + String(repeating: "x", count: 40) + "T3Blbk" + "FJ" + keys.text(40),
                    "ask-" + keys.text(20) + "T3Blbk" + "FJ" + keys.text(20) + "_more",
                ]),
            sample(
                "openai-project-key", ["sk-" + "proj-" + keys.text(120, from: FakeKeys.urlSafe)],
                ignored: ["sk-" + "proj-" + "your-api-key-here", "sk-" + "proj-" + keys.text(20)]),
            sample(
                "openai-service-account-key", ["sk-" + "svcacct-" + keys.text(120, from: FakeKeys.urlSafe)],
                ignored: ["sk-" + "svcacct-" + keys.text(30)]),
            sample(
                "openai-admin-key", ["sk-" + "admin-" + keys.text(120, from: FakeKeys.urlSafe)], ignored: ["sk-" + "admin-" + "placeholder"]
            ),
            sample(
                "anthropic-api-key", [anthropic],
                ignored: [
                    String(anthropic.dropLast(2)) + "AB", String(anthropic.dropLast(3)) + "A", "sk-" + "ant-api03-" + "your-key-here",
                ]),
            sample(
                "anthropic-admin-key", ["sk-" + "ant-admin01-" + keys.text(93, from: FakeKeys.urlSafe) + "AA"],
                ignored: ["sk-" + "ant-admin01-" + keys.text(50) + "AA"]),
            sample(
                "google-ai-api-key", [keys.gemini()],
                ignored: ["AI" + "za" + keys.text(34), "AI" + "za" + keys.text(36), "AI" + "zaSyDUMMYdummyDUMMYdummyDUMMYdummy123"]),
            sample(
                "huggingface-token", [keys.huggingFace()],
                ignored: ["hf" + "_" + keys.text(33, from: FakeKeys.letters), "hf" + "_" + keys.text(34, from: FakeKeys.letters) + "9"]),
            sample("groq-api-key", [keys.groq()], ignored: ["gsk" + "_" + keys.text(51), "gsk" + "_" + String(repeating: "a", count: 52)]),
            sample("xai-api-key", ["xai-" + keys.text(80)], ignored: ["xai-" + keys.text(40), "xai-" + keys.text(81)]),
            sample(
                "openrouter-api-key", ["sk-" + "or-v1-" + keys.text(64, from: FakeKeys.lowerHex)],
                ignored: ["sk-" + "or-v1-" + keys.text(64)]),
            sample("perplexity-api-key", ["pplx-" + keys.text(48)], ignored: ["pplx-" + keys.text(20), "pplx-api"]),
            sample(
                "replicate-api-token", ["r8" + "_" + keys.text(37)], ignored: ["r8" + "_" + keys.text(36), "var_r8" + "_" + keys.text(37)]),
            sample("together-api-key", ["tgp_" + "v1_" + keys.text(43, from: FakeKeys.urlSafe)], ignored: ["tgp_" + "v1_" + keys.text(20)]),
            sample(
                "together-legacy-api-key", [hex64], context: { "TOGETHER_API_KEY=\($0)" },
                ignored: ["sha256 = \(hex64)", "TOGETHER_API_KEY=" + String(repeating: "0", count: 64)]),
            sample(
                "mistral-api-key", [mistral], context: { "MISTRAL_API_KEY=\"\($0)\"" },
                ignored: ["build_id=\(mistral)", "MISTRAL_API_KEY=\"\(String(repeating: "ab", count: 16))\""]),
            sample(
                "cohere-api-key", [cohere], context: { "co = cohere.Client(\"\($0)\")" },
                ignored: ["commit \(cohere)", "COHERE_API_KEY=your-cohere-key-goes-here-please-0123456789"]),
            sample(
                "deepseek-api-key", [deepseek], context: { "DEEPSEEK_API_KEY=\($0)" },
                ignored: ["OTHER_KEY=\(deepseek)", "DEEPSEEK_API_KEY=sk-" + String(repeating: "0", count: 32)]),
            sample(
                "azure-openai-api-key", [azure, keys.text(84)], context: { "AZURE_OPENAI_API_KEY=\($0)" },
                ignored: ["AZURE_OPENAI_API_KEY=\(keys.text(32, from: FakeKeys.letters))", "md5 \(azure)"]),
            sample(
                "aws-access-key-id", ["AK" + "IA" + keys.text(16, from: FakeKeys.upperBase32)],
                ignored: ["AK" + "IAIOSFODNN7" + "EXAMPLE", "AK" + "IA" + keys.text(15, from: FakeKeys.upperBase32)]),
            sample(
                "aws-temporary-access-key-id", ["AS" + "IA" + keys.text(16, from: FakeKeys.upperBase32)],
                ignored: ["AS" + "IA" + "short"]),
            // With and without blanks around `=`: the `=` is not part of the secret.
            Sample(
                rule: "aws-secret-access-key",
                found: [("aws_secret_access_key = \(awsSecret)", awsSecret), ("AWS_SECRET_ACCESS_KEY=\(awsSecret)", awsSecret)],
                ignored: []),
            sample(
                "aws-secret-access-key", [awsSecret], context: { "aws_secret_access_key = \($0)" },
                ignored: [
                    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY",
                    "checksum = \(awsSecret)", "aws_secret_access_key = \(keys.text(40, from: FakeKeys.lowerHex))",
                ]),
            sample(
                "aws-bedrock-api-key", ["ABSKQmVkcm9ja0FQSUtleS" + keys.text(110, from: FakeKeys.base64)],
                ignored: ["ABSKQmVkcm9ja0FQSUtleS0..."]),
            sample(
                "aws-bedrock-short-term-api-key", ["bedrock-api-key-" + keys.text(300, from: FakeKeys.base64)],
                ignored: ["bedrock-api-key-generator"]),
            sample(
                "langsmith-api-key",
                ["lsv2_" + "pt_" + keys.text(32, from: FakeKeys.lowerHex) + "_" + keys.text(10, from: FakeKeys.lowerHex)],
                ignored: ["lsv2_" + "xx_" + keys.text(32, from: FakeKeys.lowerHex) + "_" + keys.text(10, from: FakeKeys.lowerHex)]),
            sample("pinecone-api-key", ["pcsk_" + keys.text(5) + "_" + keys.text(63)], ignored: ["pcsk_" + keys.text(70)]),
            sample(
                "perimeter-virtual-key", [perimeter],
                ignored: [String(perimeter.dropLast()) + (perimeter.hasSuffix("A") ? "B" : "A"), "prm_dev_" + keys.text(38)]),
            sample(
                "perimeter-admin-token", [admin], ignored: [String(admin.dropLast()) + (admin.hasSuffix("A") ? "B" : "A")]),
        ]
    }()

    @Test(arguments: samples) func findsTheKeyAndIgnoresLookAlikes(_ sample: Sample) throws {
        let detector = Detector()
        for (text, secret) in sample.found {
            let matches = detector.matches(in: text, path: sample.path)
            #expect(matches.map(\.ruleID) == [sample.rule], "\(text)")
            #expect(matches.first?.text == secret)
        }
        for text in sample.ignored {
            let matches = detector.matches(in: "value = \"\(text)\"\n", path: sample.path)
            #expect(!matches.contains { $0.ruleID == sample.rule }, "\(text) matched \(matches.map(\.ruleID))")
        }
    }

    @Test func everyRuleHasSamplesAndAnAnchor() {
        let covered = Set(Self.samples.map(\.rule)).union(["env-file-committed", "generic-env-secret"])
        for rule in RuleCatalog.all {
            #expect(covered.contains(rule.id), "no samples for \(rule.id)")
            switch rule.shape {
            case .envAssignment, .envFile: continue
            default: #expect(!rule.anchors.isEmpty, "\(rule.id) has no literal anchor")
            }
        }
        #expect(Set(RuleCatalog.all.map(\.id)).count == RuleCatalog.all.count)
    }
}
