import PerimeterCore
import Testing

@Suite struct BearerTokenTests {
    @Test(arguments: [
        ("Bearer sk-abc", "sk-abc"), ("bearer sk-abc", "sk-abc"), ("BEARER sk-abc", "sk-abc"), ("Bearer  \tsk-abc \t", "sk-abc"),
        ("Bearer prmadm_x y", "prmadm_x y"), ("Bearer  ", ""),
    ])
    func theTokenAfterTheSchemeInAnyCase(header: String, token: String) {
        #expect(BearerToken.parse(header) == token)
    }

    @Test(arguments: ["Basic dXNlcjpwYXNz", "Bearer", "Bearersk-abc", "Token sk-abc", "", "Bearer\tsk-abc"])
    func otherSchemesHaveNoBearerToken(header: String) {
        #expect(BearerToken.parse(header) == nil)
    }
}
