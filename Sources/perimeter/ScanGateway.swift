import Foundation
import NIOCore
import NIOHTTP1
import PerimeterCore
import PerimeterScanner

/// `perimeter scan`'s conversations with the gateway: which findings are managed keys (by keyed
/// fingerprints, never plaintext), revoking them, and reporting findings.
struct ScanGateway {
    let client: AdminClient
    /// PERIMETER_URL or PERIMETER_ADMIN_TOKEN is set: a gateway that cannot be asked is worth a
    /// word. With only the token file `perimeter serve` saved, the scan stays quiet about it.
    let isExplicit: Bool

    /// A gateway to ask, or `nil` when there is no URL and no admin token at all.
    static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment, timeout: TimeAmount = .seconds(10)
    ) -> ScanGateway? {
        var client = AdminClient.fromEnvironment(environment)
        // Bounded: connect within 2 s, each request within `timeout`, so a scan never waits long on a gateway.
        client.timeout = timeout
        client.quickConnect = true
        let isExplicit = ["PERIMETER_URL", "PERIMETER_ADMIN_TOKEN"].contains { !(environment[$0] ?? "").isEmpty }
        guard client.token != nil || isExplicit else { return nil }
        return ScanGateway(client: client, isExplicit: isExplicit)
    }

    /// Marks findings that are managed keys or provider credentials. On failure, says so once on
    /// standard error and returns false: the scan goes on without key ids.
    func markManaged(_ findings: inout [Finding]) async -> Bool {
        let salt = KeyFingerprint.makeSalt()
        do {
            let data = try await client.sendRaw(.POST, "/fingerprints", body: ["salt": Hex.encode(salt)])
            try JSONDecoder().decode(ManagedKeys.self, from: data).mark(&findings, salt: salt)
            return true
        } catch {
            if isExplicit {
                FileHandle.standardError.write(Data("perimeter scan: managed keys not checked: \(error)\n".utf8))
            }
            return false
        }
    }

    /// Revokes every managed virtual key among the findings, once each, citing where it leaked.
    func revoke(_ findings: [Finding]) async throws {
        var done = Set<String>()
        for finding in findings {
            guard let id = finding.managedKeyID, done.insert(id).inserted else { continue }
            let reason = "leaked: \(finding.location)"
            let query = "reason=" + PercentEncoding.encode(reason)
            _ = try await client.sendRaw(.DELETE, "/keys/\(try Keys.pathSegment(id))?\(query)")
            FileHandle.standardError.write(Data("Revoked key \(id) (\(reason)).\n".utf8))
        }
    }

    /// Sends the findings without their secrets. A gateway without the route (404) is told apart.
    /// `owner`: whose machine it is (a sweep's `--owner`) and its hostname, sent with every finding.
    func report(_ findings: [Finding], owner: (name: String, hostname: String)? = nil) async throws {
        let rows: [[String: Any]] = findings.map { finding in
            var row: [String: Any] = [
                "rule": finding.ruleID, "provider": finding.provider, "path": finding.path, "line": finding.line,
                "commit": finding.commit?.sha ?? NSNull(), "sha256": finding.sha256,
                "managed_key_id": finding.managedKeyID ?? NSNull(), "classification": finding.classification.rawValue,
            ]
            if let owner {
                row["owner"] = owner.name
                row["hostname"] = owner.hostname
            }
            return row
        }
        // The gateway takes at most 1000 findings per request (its OpenAPI document's maxItems).
        for start in stride(from: 0, to: max(rows.count, 1), by: 1000) {
            let batch = Array(rows[start..<min(start + 1000, rows.count)])
            let (status, _) = try await client.exchange(.POST, "/findings", body: JSONObject(members: ["findings": batch]))
            switch status.code {
            case 200..<300: continue
            case 404:
                FileHandle.standardError.write(Data("perimeter scan: this gateway does not accept reports yet.\n".utf8))
                return
            default:
                throw CLIError("the gateway answered \(status.code) \(status.reasonPhrase) to the findings report")
            }
        }
        FileHandle.standardError.write(Data("Reported \(findings.count) finding(s) to the gateway.\n".utf8))
    }
}
