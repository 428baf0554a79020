import Foundation
import PerimeterCore
import Testing

@testable import PerimeterProviders

@Suite struct RequestInspectorTests {
    func inspect(_ text: String) throws -> RequestFacts {
        try RequestInspector.inspect(Array(text.utf8)).0
    }

    @Test func readsTheFactsPolicyAndMeteringNeed() throws {
        let body =
            #"{"model":"gpt-4o","messages":[{"role":"user","content":"say \"model\": no"}],"stream":true,"max_completion_tokens":256,"tools":[{"type":"function","function":{"name":"f"}}]}"#
        let facts = try inspect(body)
        var expected = RequestFacts(
            model: "gpt-4o", isStream: true, includesUsage: false, hasTools: true, toolNames: ["f"], maxOutputTokens: 256)
        expected.inputTokenCeiling = body.utf8.count
        #expect(facts == expected)
    }

    @Test func theInputCeilingIsTheBytesPlusAnAllowanceForEveryMediaPart() throws {
        let text = #"{"model":"m","messages":[{"role":"user","content":"hello"}]}"#
        #expect(try inspect(text).inputTokenCeiling == text.utf8.count)
        let images =
            #"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}},{"type":"text","text":"what?"}]}]}"#
        // "image_url" names the part twice (type and field): counted twice, which only raises the ceiling.
        #expect(try inspect(images).inputTokenCeiling == images.utf8.count + 2 * RequestFacts.mediaTokenCeiling)
        let anthropic = #"{"model":"m","messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"u"}}]}]}"#
        #expect(try inspect(anthropic).inputTokenCeiling == anthropic.utf8.count + RequestFacts.mediaTokenCeiling)
    }

    @Test func countsTheAnswersAskedForAndRefusesANonsenseN() throws {
        #expect(try inspect(#"{"model":"m","n":8}"#).choices == 8)
        #expect(try inspect(#"{"model":"m","n":null}"#).choices == 1)
        #expect(try inspect(#"{"model":"m"}"#).choices == 1)
        for bad in ["0", "129", "2.5", "-1", "1e300", "\"8\"", "[8]"] {
            #expect(throws: GatewayError.self, "n: \(bad)") { try inspect(#"{"model":"m","n":\#(bad)}"#) }
        }
    }

    @Test func theLargestOutputLimitNamedBoundsTheWorstCase() throws {
        #expect(try inspect(#"{"model":"m","max_completion_tokens":10,"max_tokens":5000}"#).maxOutputTokens == 5000)
        #expect(try inspect(#"{"model":"m","max_tokens":64,"max_output_tokens":32}"#).maxOutputTokens == 64)
    }

    @Test func findsFeaturesBilledPerUse() throws {
        #expect(
            try inspect(#"{"model":"m","tools":[{"type":"web_search_preview"},{"type":"function","name":"f"}]}"#).perUseFeatures == [
                "web_search_preview"
            ])
        #expect(
            try inspect(#"{"model":"m","tools":[{"type":"image_generation"},{"type":"file_search"}]}"#).perUseFeatures == [
                "image_generation", "file_search",
            ])
        #expect(
            try inspect(#"{"model":"m","tools":[{"type":"code_execution_20250522","name":"code_execution"}]}"#).perUseFeatures == [
                "code_execution_20250522"
            ])
        #expect(try inspect(#"{"model":"m","web_search_options":{}}"#).perUseFeatures == ["web_search_options"])
        #expect(try inspect(#"{"model":"m","audio":{"voice":"alloy"}}"#).perUseFeatures == ["audio"])
        #expect(
            try inspect(#"{"model":"m","audio":null,"tools":[{"type":"function","function":{"name":"web_search"}}]}"#).perUseFeatures
                .isEmpty)
    }

    @Test func nestedModelFieldsAreNotTheModel() throws {
        let facts = try inspect(#"{"metadata":{"model":"evil"},"model":"claude-haiku-4-5","max_tokens":1024,"tools":[]}"#)
        #expect(facts.model == "claude-haiku-4-5")
        #expect(facts.maxOutputTokens == 1024)
        #expect(!facts.hasTools)
    }

    @Test func namesTheDeclaredToolsInEveryShape() throws {
        let chat = try inspect(#"{"model":"m","tools":[{"type":"function","function":{"name":"get_weather"}},{"type":"web_search"}]}"#)
        #expect(chat.toolNames == ["get_weather", "web_search"])
        let anthropic = try inspect(#"{"model":"m","tools":[{"name":"lookup","input_schema":{}}]}"#)
        #expect(anthropic.toolNames == ["lookup"])
        let legacy = try inspect(#"{"model":"m","functions":[{"name":"old_style"}]}"#)
        #expect(legacy.toolNames == ["old_style"] && legacy.hasTools)
        #expect(try inspect(#"{"model":"m","tool_choice":"auto"}"#).hasTools)
        #expect(!(try inspect(#"{"model":"m","tool_choice":"none"}"#).hasTools))
    }

    @Test func decodesEscapesInTheModelName() throws {
        #expect(try inspect(#"{"model":"gpt\u002d4o\/x"}"#).model == "gpt-4o/x")
    }

    @Test func seesIncludeUsage() throws {
        #expect(try inspect(#"{"model":"m","stream":true,"stream_options":{"include_usage":true}}"#).includesUsage)
        #expect(!(try inspect(#"{"model":"m","stream":true,"stream_options":{"include_usage":false}}"#).includesUsage))
    }

    @Test(arguments: [
        "", "[]", "{", #"{"model":}"#, #"{"model":"a",}"#, #"{"model":"a"} x"#, #"{"model":tru}"#, #"{"a":[1,2}"#,
        #"{"a":"unterminated}"#, #"{"a":01}"#, #"{"a":1.}"#, "{\"a\":\"tab\there\"}", #"{'a':1}"#,
    ])
    func refusesMalformedJSON(text: String) {
        #expect(throws: GatewayError.self) { try RequestInspector.inspect(Array(text.utf8)) }
    }

    @Test func refusesDeepNesting() {
        let deep = #"{"a":"# + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "}"
        #expect(throws: GatewayError.self) { try RequestInspector.inspect(Array(deep.utf8)) }
    }

    @Test func acceptsEveryJSONValueKind() throws {
        let facts = try inspect(#"{"model":"m","num":-1.5e+3,"b":false,"z":null,"o":{"k":[{},[],"\\"]},"s":"é😀"}"#)
        #expect(facts.model == "m")
    }

    @Test func addsStreamOptionsWithoutTouchingAnythingElse() throws {
        let original = #"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}"#
        let (_, members) = try RequestInspector.inspect(Array(original.utf8))
        let rewritten = String(decoding: RequestInspector.requestingStreamUsage(Array(original.utf8), members: members), as: UTF8.self)
        #expect(
            rewritten
                == #"{"stream_options":{"include_usage":true},"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}"#)
        #expect(try inspect(rewritten).includesUsage)
    }

    @Test func turnsOnIncludeUsageKeepingTheClientsOtherOptions() throws {
        let original = #"{"model":"m","stream":true,"stream_options":{"include_usage":false,"include_obfuscation":false},"n":1}"#
        let (_, members) = try RequestInspector.inspect(Array(original.utf8))
        let rewritten = RequestInspector.requestingStreamUsage(Array(original.utf8), members: members)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(rewritten)) as? [String: Any])
        let options = try #require(object["stream_options"] as? [String: Any])
        #expect(options["include_usage"] as? Bool == true)
        #expect(options["include_obfuscation"] as? Bool == false)
        #expect(object["n"] as? Int == 1)
        #expect(try inspect(String(decoding: rewritten, as: UTF8.self)).includesUsage)
    }

    @Test func replacesNullStreamOptions() throws {
        let original = #"{"model":"m","stream":true,"stream_options":null}"#
        let (_, members) = try RequestInspector.inspect(Array(original.utf8))
        let rewritten = String(decoding: RequestInspector.requestingStreamUsage(Array(original.utf8), members: members), as: UTF8.self)
        #expect(rewritten == #"{"model":"m","stream":true,"stream_options":{"include_usage":true}}"#)
    }
}
