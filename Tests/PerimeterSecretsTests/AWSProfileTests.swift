import Foundation
import PerimeterCore
import Synchronization
import Testing

@testable import PerimeterSecrets

@Suite struct AWSProfileTests {
    let t0 = Date(timeIntervalSince1970: 1_790_000_000)  // 2026-09-21T14:13:20Z

    func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("aws-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The environment of a home holding `config` and `credentials`, with AWS_PROFILE `profile`.
    func environment(profile: String, config: String, credentials: String = "", more: [String: String] = [:]) throws -> [String: String] {
        let home = try temporaryDirectory()
        try FileManager.default.createDirectory(atPath: home + "/.aws", withIntermediateDirectories: true)
        try config.write(toFile: home + "/.aws/config", atomically: true, encoding: .utf8)
        try credentials.write(toFile: home + "/.aws/credentials", atomically: true, encoding: .utf8)
        return ["HOME": home, "AWS_PROFILE": profile, "AWS_EC2_METADATA_DISABLED": "true"].merging(more) { $1 }
    }

    static func stsAnswer(_ key: String, expiration: String = "2026-09-21T15:13:20Z") -> SecretHTTPResponse {
        response(
            200,
            """
            <AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
            <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/r/perimeter</Arn></AssumedRoleUser>
            <Credentials><AccessKeyId>\(key)</AccessKeyId><SecretAccessKey>secret-of-\(key)</SecretAccessKey>
            <SessionToken>token-of-\(key)</SessionToken><Expiration>\(expiration)</Expiration></Credentials>
            </AssumeRoleResult></AssumeRoleResponse>
            """)
    }

    @Test func aRoleProfileChainsToTheKeysItsSourcesHold() throws {
        let env = try environment(
            profile: "deploy",
            config: """
                [profile deploy]
                role_arn = arn:aws:iam::111111111111:role/deploy
                source_profile = middle
                external_id = ext-123
                duration_seconds = 1800
                role_session_name = gw
                region = eu-west-1
                [profile middle]
                role_arn = arn:aws:iam::222222222222:role/middle
                source_profile = base
                """,
            credentials: "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = base-secret\n")
        let source = try AWSCredentialChain.source(env, region: "us-east-2")
        guard case .assumeRole(let role, let from, "deploy") = source, case .assumeRole(let middle, let base, "middle") = from else {
            Issue.record("\(source)")
            return
        }
        #expect(
            role
                == AWSAssumeRole(
                    roleARN: "arn:aws:iam::111111111111:role/deploy", sessionName: "gw", externalID: "ext-123", durationSeconds: 1800,
                    sts: URL(string: "https://sts.eu-west-1.amazonaws.com")!, region: "eu-west-1"))
        #expect(middle.sessionName == "perimeter" && middle.region == "us-east-2" && middle.externalID == nil)
        #expect(base == .profile(AWSCredentials(accessKeyID: "AKIDBASE", secretAccessKey: Secret("base-secret")), name: "base"))
        #expect(source.name == "profile:deploy")
    }

    @Test(arguments: [
        (
            "[profile a]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = b\n[profile b]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = a\n",
            "loop: a -> b -> a"
        ),
        ("[profile a]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = a\n", "loop: a -> a"),
        ("[profile a]\nrole_arn = arn:aws:iam::1:role/a\n", "without source_profile or credential_source"),
        ("[profile a]\nrole_arn = r\nsource_profile = b\ncredential_source = Environment\n", "both"),
        ("[profile a]\nrole_arn = r\nsource_profile = nowhere\n", "'nowhere', which has no credentials"),
        ("[profile a]\nrole_arn = r\ncredential_source = Laptop\n", "none of Environment"),
        ("[profile a]\nrole_arn = r\ncredential_source = EcsContainer\n", "finds no credentials"),
        ("[profile a]\nrole_arn = r\nsource_profile = b\nmfa_serial = arn:aws:iam::1:mfa/me\n", "MFA"),
        ("[profile a]\nrole_arn = r\ncredential_source = Environment\nduration_seconds = 60\n", "900 to 43200"),
        ("[profile a]\nweb_identity_token_file = /t\n", "without role_arn"),
        ("[profile a]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = R\n", "[sso-session corp]"),
    ])
    func aProfileThatCannotGiveCredentialsSaysWhy(config: String, expected: String) throws {
        let env = try environment(profile: "a", config: config)
        let error = #expect(throws: AWSCredentialError.self) { try AWSCredentialChain.source(env, region: nil) }
        #expect(error?.description.contains(expected) == true, "\(error?.description ?? "")")
    }

    @Test func aProfileMayAssumeItsRoleWithItsOwnKeysAndSourcesFromThePlatform() throws {
        let own = try environment(
            profile: "self", config: "[profile self]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = self\n",
            credentials: "[self]\naws_access_key_id = AKIDSELF\naws_secret_access_key = s\n")
        guard case .assumeRole(_, .profile(let keys, "self"), "self") = try AWSCredentialChain.source(own, region: nil) else {
            Issue.record("not assumed with its own keys")
            return
        }
        #expect(keys.accessKeyID == "AKIDSELF")
        let cases: [(String, [String: String], AWSCredentialChain.Source)] = [
            (
                "Environment", ["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "e"],
                .environment(AWSCredentials(accessKeyID: "AKIDENV", secretAccessKey: Secret("e")))
            ),
            (
                "Ec2InstanceMetadata", ["AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://imds.test"],
                .instanceMetadata(URL(string: "http://imds.test")!)
            ),
            (
                "EcsContainer", ["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/c"],
                .container(URL(string: "http://169.254.170.2/v2/c")!, authorization: nil, authorizationFile: nil)
            ),
        ]
        for (name, more, expected) in cases {
            let env = try environment(
                profile: "p", config: "[profile p]\nrole_arn = arn:aws:iam::1:role/r\ncredential_source = \(name)\n", more: more)
            guard case .assumeRole(_, let from, "p") = try AWSCredentialChain.source(env, region: nil) else {
                Issue.record(Comment(rawValue: name))
                continue
            }
            #expect(from == expected, Comment(rawValue: name))
        }
    }

    @Test func withinAProfileTheSDKsOrderHolds() throws {
        // Static keys in the credentials file come before credential_process, which comes before keys in the config file.
        let process =
            "[profile p]\ncredential_process = /usr/local/bin/creds --json\naws_access_key_id = AKIDCONFIG\naws_secret_access_key = c\n"
        #expect(
            try AWSCredentialChain.source(try environment(profile: "p", config: process), region: nil)
                == .process(command: "/usr/local/bin/creds --json", profile: "p"))
        let both = try environment(
            profile: "p", config: process, credentials: "[p]\naws_access_key_id = AKIDCRED\naws_secret_access_key = k\n")
        #expect(
            try AWSCredentialChain.source(both, region: nil)
                == .profile(AWSCredentials(accessKeyID: "AKIDCRED", secretAccessKey: Secret("k")), name: "p"))
        let web = try environment(
            profile: "w",
            config: "[profile w]\nrole_arn = arn:aws:iam::1:role/w\nweb_identity_token_file = /var/run/token\nregion = ap-south-1\n")
        #expect(
            try AWSCredentialChain.source(web, region: nil)
                == .webIdentity(
                    tokenFile: "/var/run/token", roleARN: "arn:aws:iam::1:role/w", sessionName: "perimeter",
                    sts: URL(string: "https://sts.ap-south-1.amazonaws.com")!))
    }

    @Test func anAssumedRoleIsSignedWithItsSourceAndRenewedBeforeItExpires() async throws {
        let env = try environment(
            profile: "top",
            config: """
                [profile top]
                role_arn = arn:aws:iam::1:role/top
                source_profile = mid
                external_id = ext-9
                [profile mid]
                role_arn = arn:aws:iam::1:role/mid
                credential_source = Environment
                """,
            more: ["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "env-secret", "AWS_ENDPOINT_URL_STS": "http://sts.test"])
        let transport = ScriptedTransport { request in
            let form = String(decoding: request.body, as: UTF8.self)
            return Self.stsAnswer(form.contains("role%2Fmid") ? "ASIAMID" : "ASIATOP")
        }
        let now = Mutex(t0)
        let chain = AWSCredentialChain(environment: env, region: "eu-central-1", transport: transport, clock: { now.withLock { $0 } })
        let credentials = try await chain.credentials()
        #expect(credentials.accessKeyID == "ASIATOP" && credentials.sessionToken == Secret("token-of-ASIATOP"))
        let sent = transport.requests
        #expect(sent.count == 2 && sent.allSatisfy { $0.url.absoluteString == "http://sts.test/" && $0.method == "POST" })
        // The middle role is assumed with the environment's keys, the top one with the middle's.
        #expect(sent[0].header("authorization")?.contains("Credential=AKIDENV/20260921/eu-central-1/sts/aws4_request") == true)
        #expect(sent[1].header("authorization")?.contains("Credential=ASIAMID/20260921/eu-central-1/sts/aws4_request") == true)
        #expect(sent[1].header("x-amz-security-token") == "token-of-ASIAMID" && sent[0].header("x-amz-security-token") == nil)
        let form = String(decoding: sent[1].body, as: UTF8.self)
        #expect(
            form.contains("Action=AssumeRole&Version=2011-06-15") && form.contains("RoleSessionName=perimeter")
                && form.contains("ExternalId=ext-9") && !form.contains("DurationSeconds"))
        _ = try await chain.credentials()
        #expect(transport.requests.count == 2, "kept until five minutes before 15:13:20")
        now.withLock { $0 = t0.addingTimeInterval(3300) }
        _ = try await chain.credentials()
        #expect(transport.requests.count == 4, "renewed, with the source assumed anew")
    }

    @Test func ssoReadsTheCachedTokenAndAsksThePortal() async throws {
        let home = try temporaryDirectory()
        let cache = home + "/.aws/sso/cache"
        try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        let digest = "ee0bfd2552fbd840c02cc48b6e823320543c450f"  // SHA-1 of the session name "corp", as botocore names it
        try #"{"accessToken":"sso-bearer-1","expiresAt":"2026-09-21T20:00:00Z","region":"eu-west-1"}"#
            .write(toFile: cache + "/\(digest).json", atomically: true, encoding: .utf8)
        try """
        [profile dev]
        sso_session = corp
        sso_account_id = 123456789012
        sso_role_name = Gateway Readers
        [sso-session corp]
        sso_start_url = https://corp.awsapps.com/start
        sso_region = eu-west-1
        """.write(toFile: home + "/config", atomically: true, encoding: .utf8)
        let env = ["HOME": home, "AWS_PROFILE": "dev", "AWS_CONFIG_FILE": home + "/config"]
        let transport = ScriptedTransport { request in
            guard request.header("x-amz-sso_bearer_token") == "sso-bearer-1" else { return response(401, "{}") }
            return response(
                200,
                #"{"roleCredentials":{"accessKeyId":"ASIASSO","secretAccessKey":"sso-secret","sessionToken":"sso-session","expiration":1790010000000}}"#
            )
        }
        let now = Mutex(t0)
        let chain = AWSCredentialChain(environment: env, region: nil, transport: transport, clock: { now.withLock { $0 } })
        #expect(await chain.sourceName == "profile:dev")
        #expect(try await chain.credentials().accessKeyID == "ASIASSO")
        #expect(
            transport.requests.map(\.url.absoluteString) == [
                "https://portal.sso.eu-west-1.amazonaws.com/federation/credentials?role_name=Gateway%20Readers&account_id=123456789012"
            ])
        // The cached token expired: the error says to log in again, without the token.
        now.withLock { $0 = t0.addingTimeInterval(30000) }
        let error = await #expect(throws: AWSCredentialError.self) { try await chain.credentials() }
        #expect(error?.description.contains("aws sso login") == true && error?.description.contains("sso-bearer-1") == false)
    }
}
