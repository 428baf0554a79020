import Foundation
import PerimeterCore
import Synchronization
import Testing

@testable import PerimeterSecrets

@Suite struct ExpiringCredentialTests {
    let t0 = Date(timeIntervalSince1970: 1_790_000_000)

    @Test func aCredentialIsRenewedFiveMinutesAheadOrAtHalfAShortLife() {
        var state = ExpiringCredential<String>()
        #expect(state.decide(now: t0) == .fetch)
        state.fetched("a", expiresAt: t0.addingTimeInterval(3600), now: t0)
        #expect(state.decide(now: t0.addingTimeInterval(3299)) == .use)
        #expect(state.decide(now: t0.addingTimeInterval(3300)) == .fetch)
        state.fetched("b", expiresAt: t0.addingTimeInterval(240), now: t0)
        #expect(state.decide(now: t0.addingTimeInterval(119)) == .use)
        #expect(state.decide(now: t0.addingTimeInterval(120)) == .fetch)
        // No expiry: kept for good.
        state.fetched("c", expiresAt: nil, now: t0)
        #expect(state.decide(now: t0.addingTimeInterval(86400 * 365)) == .use)
    }

    @Test func aFailureBacksOffAndKeepsAValidCredential() {
        var state = ExpiringCredential<String>()
        state.failed(now: t0)
        #expect(state.decide(now: t0.addingTimeInterval(4)) == .fail)
        #expect(state.decide(now: t0.addingTimeInterval(5)) == .fetch)
        state.failed(now: t0.addingTimeInterval(5))
        #expect(state.decide(now: t0.addingTimeInterval(14)) == .fail, "the second wait is 10 s")
        for _ in 0..<10 { state.failed(now: t0) }
        #expect(state.decide(now: t0.addingTimeInterval(59)) == .fail && state.decide(now: t0.addingTimeInterval(60)) == .fetch)
        // Renewal due, the renewal fails: the credential is still good until it expires.
        state.fetched("a", expiresAt: t0.addingTimeInterval(600), now: t0)
        state.failed(now: t0.addingTimeInterval(400))
        #expect(state.decide(now: t0.addingTimeInterval(401)) == .use && state.isValid(at: t0.addingTimeInterval(599)))
        #expect(!state.isValid(at: t0.addingTimeInterval(600)))
    }

    @Test func anExpiryAlreadyPastByThisClockServesOneCall() {
        var state = ExpiringCredential<String>()
        state.fetched("skewed", expiresAt: t0.addingTimeInterval(-30), now: t0)
        #expect(state.isValid(at: t0) && state.decide(now: t0) == .fetch)
    }
}

@Suite struct AWSCredentialChainTests {
    static let sts = #"""
        <AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
          <AssumeRoleWithWebIdentityResult>
            <Credentials>
              <SessionToken>FQoGZXIvYXdzEXAMPLE</SessionToken>
              <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
              <Expiration>2026-09-21T17:00:00Z</Expiration>
              <AccessKeyId>ASgeIAIOSFODNN7EXAMPLE</AccessKeyId>
            </Credentials>
          </AssumeRoleWithWebIdentityResult>
        </AssumeRoleWithWebIdentityResponse>
        """#

    func temporaryFile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("aws-\(UUID().uuidString)").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func theChainTakesTheFirstSourceInTheSDKsOrder() throws {
        let none = ["HOME": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true"]
        #expect(throws: AWSCredentialError.self) { try AWSCredentialChain.source(none, region: nil) }
        var env = none.merging(["AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s"]) { $1 }
        env["AWS_WEB_IDENTITY_TOKEN_FILE"] = "/var/run/token"
        env["AWS_ROLE_ARN"] = "arn:aws:iam::123456789012:role/gw"
        #expect(try AWSCredentialChain.source(env, region: nil).name == "environment")
        env["AWS_ACCESS_KEY_ID"] = nil
        let identity = try AWSCredentialChain.source(env, region: "eu-west-1")
        guard case .webIdentity(_, let role, let session, let sts) = identity else { Issue.record("\(identity)"); return }
        #expect(
            role == "arn:aws:iam::123456789012:role/gw" && session == "perimeter"
                && sts.absoluteString == "https://sts.eu-west-1.amazonaws.com")
        // An explicit profile comes first, as in the SDKs.
        let credentials = try temporaryFile(
            "[default]\naws_access_key_id = AKIDDEFAULT\n[ci]\naws_access_key_id=AKIDCI\naws_secret_access_key = sek\n")
        env["AWS_SHARED_CREDENTIALS_FILE"] = credentials
        env["AWS_PROFILE"] = "ci"
        #expect(
            try AWSCredentialChain.source(env, region: nil)
                == .profile(AWSCredentials(accessKeyID: "AKIDCI", secretAccessKey: Secret("sek")), name: "ci"))
        env["AWS_PROFILE"] = "missing"
        #expect(throws: AWSCredentialError.self) { try AWSCredentialChain.source(env, region: nil) }
        let container = ["HOME": "/nonexistent", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/abc"]
        #expect(
            try AWSCredentialChain.source(container, region: nil)
                == .container(URL(string: "http://169.254.170.2/v2/credentials/abc")!, authorization: nil, authorizationFile: nil))
        #expect(
            try AWSCredentialChain.source(["HOME": "/nonexistent"], region: nil)
                == .instanceMetadata(URL(string: "http://169.254.169.254")!))
    }

    @Test func webIdentityIsExchangedAtSTSAndRenewedBeforeItExpires() async throws {
        let tokenFile = try temporaryFile("eyJhbGciOiJSUzI1NiJ9.k8s-token.sig\n")
        let now = Mutex(Date(timeIntervalSince1970: 1_790_000_000))  // 2026-09-21T14:13:20Z; expiry 17:00
        let transport = ScriptedTransport { _ in response(200, Self.sts) }
        let chain = AWSCredentialChain(
            environment: [
                "HOME": "/nonexistent", "AWS_WEB_IDENTITY_TOKEN_FILE": tokenFile, "AWS_ROLE_ARN": "arn:aws:iam::1:role/gw",
                "AWS_ENDPOINT_URL": "http://moto:5000",
            ],
            region: "us-east-1", transport: transport, clock: { now.withLock { $0 } })
        let first = try await chain.credentials()
        #expect(first.accessKeyID == "ASgeIAIOSFODNN7EXAMPLE" && first.sessionToken == Secret("FQoGZXIvYXdzEXAMPLE"))
        _ = try await chain.credentials()
        #expect(transport.requests.count == 1, "cached until five minutes before 17:00")
        let form = String(decoding: transport.requests[0].body, as: UTF8.self)
        #expect(form.contains("Action=AssumeRoleWithWebIdentity") && form.contains("WebIdentityToken=eyJhbGciOiJSUzI1NiJ9.k8s-token.sig"))
        #expect(
            form.contains("RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fgw") && transport.requests[0].url.absoluteString == "http://moto:5000/")
        now.withLock { $0 = Date(timeIntervalSince1970: 1_790_009_700) }  // 16:55
        _ = try await chain.credentials()
        #expect(transport.requests.count == 2)
    }

    @Test func instanceMetadataIsIMDSv2AndARefusalIsNotRepeatedAtOnce() async throws {
        let transport = ScriptedTransport { request in
            switch (request.method, request.url.path) {
            case ("PUT", "/latest/api/token"):
                return response(request.header("x-aws-ec2-metadata-token-ttl-seconds") == "21600" ? 200 : 400, "imds-session")
            case ("GET", "/latest/meta-data/iam/security-credentials"):  // URL.path drops the final slash
                return response(request.header("x-aws-ec2-metadata-token") == "imds-session" ? 200 : 401, "gateway-role\n")
            case ("GET", "/latest/meta-data/iam/security-credentials/gateway-role"):
                return response(
                    200,
                    #"{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"ASIAIMDS","SecretAccessKey":"s3cr3t","Token":"tok","Expiration":"2026-09-21T20:00:00Z"}"#
                )
            default:
                return response(404, "")
            }
        }
        let chain = AWSCredentialChain(
            environment: ["HOME": "/nonexistent", "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://imds.test"], region: nil,
            transport: transport,
            clock: { Date(timeIntervalSince1970: 1_790_000_000) })
        #expect(try await chain.credentials().accessKeyID == "ASIAIMDS")
        #expect(transport.requests.map(\.method) == ["PUT", "GET", "GET"])
        let refusing = ScriptedTransport { _ in response(403, "<Error><Code>AccessDenied</Code></Error>") }
        let refused = AWSCredentialChain(
            environment: ["HOME": "/nonexistent", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:9/creds"], region: nil,
            transport: refusing, clock: { Date(timeIntervalSince1970: 1_790_000_000) })
        await #expect(throws: AWSCredentialError.self) { try await refused.credentials() }
        await #expect(throws: AWSCredentialError.self) { try await refused.credentials() }
        #expect(refusing.requests.count == 1, "backed off")
    }
}
