import Foundation
import PerimeterCore
import PerimeterScanner
import Synchronization

/// A profile's `credential_process`: a command run through `/bin/sh -c` (as the Go, Java and Rust SDKs
/// do), with the gateway's environment less Perimeter's own variables (`PERIMETER_*`: the master key and
/// the admin token are none of its business), whose standard output is the documented JSON:
/// `{"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken"?, "Expiration"?}` (ISO 8601;
/// without it the credentials are kept for good).
///
/// It is started with `posix_spawn` (``ChildProcess``; Foundation's `Process` can hang where the
/// network namespace has no loopback), must finish within `timeout` and print at most 64 KiB, and is
/// killed otherwise. Its output holds the secret key, so no error ever quotes it, and its standard
/// error goes to `/dev/null` for the same reason.
enum AWSCredentialProcess {
    static let outputLimit = 64 * 1024
    /// One spawn at a time: the pipes are made close-on-exec after `pipe()`, so two spawns at once could
    /// hand one child the other's pipe end (and keep that pipe open past its child's end).
    private static let spawning = Mutex(())

    static func credentials(
        command: String, profile: String, environment: [String: String], timeout: Duration = .seconds(30)
    ) async throws -> (AWSCredentials, Date?) {
        let environment = environment.filter { !$0.key.hasPrefix("PERIMETER_") }
        let output = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8], any Error>) in
            // It blocks for up to `timeout`: off the cooperative pool.
            DispatchQueue.global().async {
                continuation.resume(with: Result { try run(command, profile: profile, environment: environment, timeout: timeout) })
            }
        }
        return try parse(output, profile: profile)
    }

    private static func run(_ command: String, profile: String, environment: [String: String], timeout: Duration) throws -> [UInt8] {
        let what = "the credential_process of AWS profile '\(profile)'"
        let child: ChildProcess
        do {
            child = try spawning.withLock { _ in
                try ChildProcess.spawn(
                    executable: "/bin/sh", arguments: ["-c", command], environment: environment, input: false, captureErrors: false)
            }
        } catch {
            throw AWSCredentialError(description: "cannot start \(what): \(error)")
        }
        let started = ContinuousClock.now
        let output = ChildProcess.readOutput(child.output, limit: outputLimit, timeout: timeout)
        ChildProcess.closeDescriptor(child.output)
        let left = max(.zero, timeout - started.duration(to: .now))
        let status = child.wait(timeout: output == nil ? .zero : left)
        guard let output, let status else {
            throw AWSCredentialError(
                description: "\(what) did not finish within \(timeout.components.seconds) s with at most 64 KiB of output; it was stopped")
        }
        guard status == 0 else { throw AWSCredentialError(description: "\(what) exited with status \(status)") }
        return output
    }

    static func parse(_ output: [UInt8], profile: String) throws -> (AWSCredentials, Date?) {
        func failure(_ problem: String) -> AWSCredentialError {
            AWSCredentialError(description: "the credential_process of AWS profile '\(profile)' \(problem)")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(output))) as? [String: Any] else {
            throw failure("did not print a JSON object")
        }
        guard let version = object["Version"] as? NSNumber, version == 1 else {
            throw failure("printed a Version other than 1, the only one AWS documents")
        }
        guard let key = object["AccessKeyId"] as? String, !key.isEmpty, let secret = object["SecretAccessKey"] as? String,
            !secret.isEmpty
        else { throw failure("printed no AccessKeyId and SecretAccessKey") }
        var expiry: Date?
        if let text = object["Expiration"] as? String {
            guard let date = AWSCredentialSources.parseDate(text) else { throw failure("printed an Expiration that is not ISO 8601") }
            expiry = date
        }
        let token = (object["SessionToken"] as? String).flatMap { $0.isEmpty ? nil : Secret($0) }
        return (AWSCredentials(accessKeyID: key, secretAccessKey: Secret(secret), sessionToken: token), expiry)
    }
}
