import Foundation
import PerimeterCore
import Synchronization
import Testing

@testable import PerimeterSecrets

@Suite struct AWSCredentialProcessTests {
    let environment = ["PATH": "/usr/bin:/bin", "HOME": "/nonexistent"]

    @Test func theCommandsJSONGivesCredentialsWithTheirExpiry() async throws {
        let command =
            #"printf '%s' '{"Version": 1, "AccessKeyId": "ASIAPROC", "SecretAccessKey": "proc-secret", "SessionToken": "proc-token", "Expiration": "2026-09-21T17:00:00Z"}'"#
        let (credentials, expiry) = try await AWSCredentialProcess.credentials(command: command, profile: "p", environment: environment)
        #expect(
            credentials
                == AWSCredentials(accessKeyID: "ASIAPROC", secretAccessKey: Secret("proc-secret"), sessionToken: Secret("proc-token")))
        #expect(expiry == Date(timeIntervalSince1970: 1_790_010_000))
        // The gateway's environment reaches the command; no Expiration: kept for good.
        let echo = #"printf '{"Version":1,"AccessKeyId":"%s","SecretAccessKey":"s"}' "$MARK""#
        let (marked, none) = try await AWSCredentialProcess.credentials(
            command: echo, profile: "p", environment: environment.merging(["MARK": "AKIDMARK"]) { $1 })
        #expect(marked.accessKeyID == "AKIDMARK" && marked.sessionToken == nil && none == nil)
        // Perimeter's own variables stay with the gateway.
        let (scrubbed, _) = try await AWSCredentialProcess.credentials(
            command: #"printf '{"Version":1,"AccessKeyId":"K%s","SecretAccessKey":"s"}' "$PERIMETER_MASTER_KEY""#, profile: "p",
            environment: environment.merging(["PERIMETER_MASTER_KEY": "master"]) { $1 })
        #expect(scrubbed.accessKeyID == "K")
    }

    @Test(arguments: [
        (#"printf '{"Version":1,"AccessKeyId":"A","SecretAccessKey":"leaked-secret"}'; exit 3"#, "exited with status 3"),
        (#"printf '{"Version":2,"AccessKeyId":"A","SecretAccessKey":"leaked-secret"}'"#, "Version other than 1"),
        (#"printf 'leaked-secret'"#, "not print a JSON object"),
        (#"printf '{"Version":1,"AccessKeyId":"A"}'"#, "no AccessKeyId and SecretAccessKey"),
        (#"printf '{"Version":1,"AccessKeyId":"A","SecretAccessKey":"leaked-secret","Expiration":"soon"}'"#, "not ISO 8601"),
        ("head -c 70000 /dev/zero | tr '\\0' 'x'", "at most 64 KiB"),
        ("/nonexistent/creds", "exited with status 127"),
    ])
    func aFailingCommandIsRefusedWithoutQuotingItsOutput(command: String, expected: String) async throws {
        let error = await #expect(throws: AWSCredentialError.self) {
            try await AWSCredentialProcess.credentials(command: command, profile: "p", environment: environment)
        }
        let text = error?.description ?? ""
        #expect(text.contains(expected) && text.contains("profile 'p'"), "\(text)")
        #expect(!text.contains("leaked-secret"))
    }

    /// The commands would run for a minute; each is stopped at its 300 ms timeout. The bounds leave
    /// room for a machine busy with every other suite (a spawn there took 6 s once) and still fail
    /// if the gateway waited for the command to end by itself.
    @Test func aCommandThatHangsIsStoppedAtTheTimeout() async throws {
        let started = ContinuousClock.now
        let error = await #expect(throws: AWSCredentialError.self) {
            try await AWSCredentialProcess.credentials(
                command: "sleep 60", profile: "slow", environment: environment, timeout: .milliseconds(300))
        }
        #expect(error?.description.contains("did not finish") == true)
        #expect(started.duration(to: .now) < .seconds(25))
        // One that closes its output but goes on running is stopped too.
        let lingering = #"printf '{"Version":1,"AccessKeyId":"A","SecretAccessKey":"s"}'; exec 1>&-; sleep 60"#
        let second = ContinuousClock.now
        await #expect(throws: AWSCredentialError.self) {
            try await AWSCredentialProcess.credentials(
                command: lingering, profile: "slow", environment: environment, timeout: .milliseconds(300))
        }
        #expect(second.duration(to: .now) < .seconds(25))
    }

    @Test func theChainRunsAProfilesProcessAndRenewsBeforeItsExpiry() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("aws-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let counter = directory + "/count"
        // Each run appends a line to `count` and answers with the number of runs so far in its key.
        let script = directory + "/creds.sh"
        try """
        #!/bin/sh
        echo run >> "\(counter)"
        n=$(wc -l < "\(counter)" | tr -d ' ')
        printf '{"Version":1,"AccessKeyId":"ASIARUN%s","SecretAccessKey":"s","SessionToken":"t","Expiration":"2026-09-21T15:13:20Z"}' "$n"
        """.write(toFile: script, atomically: true, encoding: .utf8)
        try """
        [profile proc]
        credential_process = /bin/sh "\(script)"
        """.write(toFile: directory + "/config", atomically: true, encoding: .utf8)
        let env = ["HOME": directory, "AWS_PROFILE": "proc", "AWS_CONFIG_FILE": directory + "/config", "PATH": "/usr/bin:/bin"]
        let now = Mutex(Date(timeIntervalSince1970: 1_790_000_000))
        let chain = AWSCredentialChain(
            environment: env, region: nil, transport: ScriptedTransport { _ in response(500, "") }, clock: { now.withLock { $0 } })
        #expect(try await chain.credentials().accessKeyID == "ASIARUN1")
        #expect(try await chain.credentials().accessKeyID == "ASIARUN1")
        now.withLock { $0 = Date(timeIntervalSince1970: 1_790_003_300) }
        #expect(try await chain.credentials().accessKeyID == "ASIARUN2")
    }
}
