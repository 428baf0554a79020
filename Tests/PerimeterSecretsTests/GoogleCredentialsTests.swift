import Foundation
import PerimeterCore
import Testing
import _CryptoExtras

@testable import PerimeterSecrets

@Suite struct GoogleCredentialsTests {
    static let key = RS256JWTTests.key
    let start = Date(timeIntervalSince1970: 1_790_000_000)

    func file(_ object: [String: Any]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gcp-\(UUID().uuidString).json").path
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
        return path
    }

    func serviceAccount(tokenURI: String = "https://oauth2.googleapis.com/token") -> [String: Any] {
        [
            "type": "service_account", "project_id": "my-project", "private_key_id": "0123abcd",
            "private_key": Self.key.pkcs8PEMRepresentation, "client_email": "perimeter@my-project.iam.gserviceaccount.com",
            "client_id": "1234567890", "token_uri": tokenURI,
        ]
    }

    @Test func aServiceAccountKeySignsAnRS256AssertionForTheTokenURI() async throws {
        let path = try file(serviceAccount())
        let credentials = try GoogleCredentials.applicationDefault(
            file: nil, metadataHost: nil, environment: ["GOOGLE_APPLICATION_CREDENTIALS": path])
        let transport = ScriptedTransport { _ in response(200, #"{"access_token":"ya29.sa","expires_in":3599,"token_type":"Bearer"}"#) }
        let (token, lifetime) = try await credentials.token(transport: transport, now: start)
        #expect(token.revealed == "ya29.sa" && lifetime == 3599)
        let request = try #require(transport.requests.first)
        #expect(request.method == "POST" && request.url.absoluteString == "https://oauth2.googleapis.com/token")
        #expect(request.header("Content-Type") == "application/x-www-form-urlencoded")
        let form = Dictionary(
            uniqueKeysWithValues: String(decoding: request.body, as: UTF8.self).split(separator: "&").map {
                let pair = $0.split(separator: "=", maxSplits: 1)
                return (String(pair[0]), String(pair[1]).removingPercentEncoding!)
            })
        #expect(form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer")
        let assertion = try #require(form["assertion"])
        #expect(RS256JWT.isValidSignature(assertion, publicKey: Self.key.publicKey))
        let parts = assertion.split(separator: ".").map { JSONValue.object(Array(RS256JWT.decodeBase64URL(String($0)) ?? Data())) }
        #expect(parts[0]?["alg"] as? String == "RS256" && parts[0]?["typ"] as? String == "JWT" && parts[0]?["kid"] as? String == "0123abcd")
        let claims = try #require(parts[1])
        #expect(claims["iss"] as? String == "perimeter@my-project.iam.gserviceaccount.com")
        #expect(claims["scope"] as? String == "https://www.googleapis.com/auth/cloud-platform")
        #expect(claims["aud"] as? String == "https://oauth2.googleapis.com/token")
        #expect(claims["iat"] as? Int == 1_790_000_000 && claims["exp"] as? Int == 1_790_003_600)
    }

    @Test func anExternalAccountExchangesTheTokenFileAtSTSThenImpersonates() async throws {
        let tokenFile = FileManager.default.temporaryDirectory.appendingPathComponent("ksa-\(UUID().uuidString)").path
        try "eyJhbGciOiJSUzI1NiJ9.ksa-token.sig\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let audience = "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/k8s"
        let impersonation =
            "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/perimeter@my-project.iam.gserviceaccount.com:generateAccessToken"
        let path = try file([
            "type": "external_account", "audience": audience, "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "token_url": "https://sts.googleapis.com/v1/token", "credential_source": ["file": tokenFile],
            "service_account_impersonation_url": impersonation,
        ])
        let credentials = try GoogleCredentials.load(path)
        let transport = ScriptedTransport { request in
            request.url.host == "sts.googleapis.com"
                ? response(
                    200,
                    #"{"access_token":"sts-token","issued_token_type":"urn:ietf:params:oauth:token-type:access_token","token_type":"Bearer","expires_in":3600}"#
                )
                : response(200, #"{"accessToken":"ya29.impersonated","expireTime":"2026-09-21T14:43:20Z"}"#)
        }
        let (token, lifetime) = try await credentials.token(transport: transport, now: start)
        #expect(token.revealed == "ya29.impersonated")
        // 2026-09-21T14:43:20Z is 1_790_000_000 + 1800.
        #expect(lifetime == 1800)
        let sts = transport.requests[0]
        let form = String(decoding: sts.body, as: UTF8.self)
        for pair in [
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange", "audience=\(PercentEncoding.encode(audience))",
            "scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fcloud-platform",
            "requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token",
            "subject_token=eyJhbGciOiJSUzI1NiJ9.ksa-token.sig", "subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt",
        ] {
            #expect(form.split(separator: "&").contains(Substring(pair)), "\(pair) in \(form)")
        }
        let iam = transport.requests[1]
        #expect(iam.url.absoluteString == impersonation && iam.header("Authorization") == "Bearer sts-token")
        #expect(JSONValue.object(iam.body)?["scope"] as? [String] == ["https://www.googleapis.com/auth/cloud-platform"])
    }

    @Test func theMetadataServerIsTheLastResort() throws {
        guard case .metadataServer(let url) = try GoogleCredentials.applicationDefault(file: nil, metadataHost: nil, environment: [:])
        else {
            Issue.record("expected the metadata server")
            return
        }
        #expect(url.absoluteString == "http://metadata.google.internal")
        let local = try GoogleCredentials.applicationDefault(
            file: nil, metadataHost: nil, environment: ["GCE_METADATA_HOST": "127.0.0.1:8089"])
        guard case .metadataServer(let override) = local else {
            Issue.record("expected the metadata server")
            return
        }
        #expect(override.absoluteString == "http://127.0.0.1:8089")
    }

    @Test func unusableFilesAreRefusedWithoutQuotingTheKey() throws {
        var plainHTTP = serviceAccount(tokenURI: "http://oauth.example.com/token")
        var badKey = serviceAccount()
        badKey["private_key"] = "-----BEGIN PRIVATE KEY-----\nMIIsecretish\n-----END PRIVATE KEY-----\n"
        var noEmail = serviceAccount()
        noEmail["client_email"] = nil
        plainHTTP["private_key_id"] = "k"
        let cases: [([String: Any], String)] = [
            (plainHTTP, "not an https URL"), (badKey, "not an RSA private key"), (noEmail, "no client_email"),
            (["type": "authorized_user", "refresh_token": "1//x"], "'authorized_user' is not supported"),
            (["type": "external_account", "audience": "a", "subject_token_type": "t", "credential_source": ["url": "http://x"]], "file"),
        ]
        for (object, saying) in cases {
            let path = try file(object)
            let error = #expect(throws: GoogleCredentialsError.self) { try GoogleCredentials.load(path) }
            #expect(error.map { "\($0)".contains(saying) && !"\($0)".contains("MIIsecretish") } == true, "\(String(describing: error))")
        }
        #expect(throws: GoogleCredentialsError.unreadable("/nonexistent/key.json")) { try GoogleCredentials.load("/nonexistent/key.json") }
    }

    @Test func aRefusalSaysWhatGoogleSaidAndIsNotTransientButAnOutageIs() async throws {
        let credentials = try GoogleCredentials.load(try file(serviceAccount()))
        let refused = ScriptedTransport { _ in response(400, #"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#) }
        let error = await #expect(throws: GoogleTokenFailure.self) { try await credentials.token(transport: refused, now: start) }
        #expect(error?.isTransient == false && error?.description.contains("invalid_grant: Invalid JWT Signature.") == true)
        let down = ScriptedTransport { _ in response(503, "upstream connect error") }
        let outage = await #expect(throws: GoogleTokenFailure.self) { try await credentials.token(transport: down, now: start) }
        #expect(outage?.isTransient == true)
    }
}
