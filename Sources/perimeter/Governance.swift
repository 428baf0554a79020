import ArgumentParser
import Foundation
import NIOHTTP1
import PerimeterCore

/// `perimeter admins`: named admin tokens with a role.
struct Admins: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list and revoke named admin tokens (role admin: everything; viewer: reads only).",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an admin token; it is shown once.")
        @Option(help: "Who holds it, e.g. alice or ci-deploy.") var name: String
        @Option(help: "admin or viewer (default viewer).") var role: String = "viewer"
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let data = try await AdminClient.fromEnvironment().sendRaw(
                .POST, "/admins", body: JSONObject(members: ["name": name, "role": role]))
            if output.json { return Display.printJSON(data) }
            let object = Governance.object(data)
            print(
                """
                Created admin token \(object["id"] as? String ?? "") (\(name), role \(object["role"] as? String ?? role)).

                    \(object["token"] as? String ?? "")

                This is the only time it is shown. Give it to its holder as PERIMETER_ADMIN_TOKEN.
                """)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List admin tokens, revoked ones included.")
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let data = try await AdminClient.fromEnvironment().sendRaw(.GET, "/admins")
            if output.json { return Display.printJSON(data) }
            print(
                TextTable.render(
                    headers: ["ID", "NAME", "ROLE", "CREATED", "REVOKED"],
                    rows: Governance.rows(data).map {
                        [
                            $0["id"] as? String ?? "", $0["name"] as? String ?? "", $0["role"] as? String ?? "",
                            Display.time($0["created_at"] as? String), Display.time($0["revoked_at"] as? String),
                        ]
                    }))
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke an admin token at once.")
        @Argument(help: "The token's id (adm_...).") var id: String
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let data = try await AdminClient.fromEnvironment().sendRaw(.DELETE, "/admins/\(try Keys.pathSegment(id))")
            if output.json { return Display.printJSON(data) }
            print("Revoked admin token \(id).")
        }
    }
}

/// `perimeter audit`: the append-only record of admin actions.
struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show admin actions: who, when, from where, what changed.")
    @Option(help: "Only since this long ago (15m, 24h, 7d) or this RFC 3339 time.") var since: String?
    @Option(help: "At most this many entries, newest first (default 1000).") var limit: Int?
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let data = try await AdminClient.fromEnvironment().sendRaw(
            .GET, "/audit", query: [("since", since), ("limit", limit.map(String.init))])
        if output.json { return Display.printJSON(data) }
        let rows = Governance.rows(data)
        guard !rows.isEmpty else { return print("No admin actions recorded\(since.map { " since \($0)" } ?? "").") }
        print(
            TextTable.render(
                headers: ["TIME", "ACTOR", "ADDRESS", "ACTION", "TARGET", "DETAILS"],
                rows: rows.map {
                    [
                        Display.time($0["time"] as? String), $0["actor"] as? String ?? "", $0["address"] as? String ?? "-",
                        $0["action"] as? String ?? "", $0["target"] as? String ?? "-", $0["details"] as? String ?? "",
                    ]
                }))
    }
}

/// `perimeter inventory`: every key and credential, and what needs attention.
struct Inventory: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List every virtual key and provider credential with owner, age, last use, spend and status.",
        discussion: "Answers \"could we list every key in use right now?\": --json for machines, --csv for spreadsheets.",
        subcommands: [InventorySync.self])
    @Flag(help: "Print the keys as CSV.") var csv = false
    @Flag(help: "Only the keys the providers themselves list (see provider-keys); with --csv, as CSV.") var providerKeys = false
    @Option(help: "owner: which keys each person has, found on their machines and issued to them.") var by: InventoryGrouping?
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let data = try await AdminClient.fromEnvironment().sendRaw(.GET, "/inventory")
        if by == .owner { return InventoryByOwner.show(data, json: output.json) }
        let report = Governance.object(data)
        if providerKeys {
            let keys = report["provider_keys"] as? [[String: Any]] ?? []
            if output.json { return Display.printJSON(try JSONSerialization.data(withJSONObject: ["data": keys])) }
            return ProviderKeysDisplay.render(keys, csv: csv)
        }
        if output.json { return Display.printJSON(data) }
        let keys = report["keys"] as? [[String: Any]] ?? []
        let columns = [
            "id", "name", "env", "owner", "generation", "age_days", "last_used_at", "last_client_ip", "spend_usd", "status", "flags",
        ]
        if csv {
            print(columns.joined(separator: ","))
            for key in keys {
                print(columns.map { Governance.csvField(Governance.text(key[$0])) }.joined(separator: ","))
            }
            return
        }
        print("Keys")
        print(
            TextTable.render(
                headers: ["ID", "NAME", "ENV", "OWNER", "GEN", "AGE", "LAST USED", "LAST IP", "SPEND", "STATUS", "FLAGS"],
                rows: keys.map { key in
                    [
                        Governance.text(key["id"]), Governance.text(key["name"]), Governance.text(key["env"]),
                        Governance.text(key["owner"]), Governance.text(key["generation"]), "\(Governance.text(key["age_days"]))d",
                        Display.time(key["last_used_at"] as? String), Governance.text(key["last_client_ip"]),
                        Governance.dollars(key["spend_usd"]), Governance.text(key["status"]), Governance.text(key["flags"]),
                    ]
                }))
        let credentials = report["credentials"] as? [[String: Any]] ?? []
        print("\nProvider credentials")
        print(
            TextTable.render(
                headers: ["REFERENCE", "STORE", "STATUS", "VERSION", "AGE", "USED BY", "FLAGS"],
                rows: credentials.map { credential in
                    [
                        Governance.text(credential["reference"]), Governance.text(credential["store"]),
                        Governance.text(credential["status"]), Governance.text(credential["version"]),
                        credential["age_days"].map { "\(Governance.text($0))d" } ?? "-", Governance.text(credential["used_by"]),
                        Governance.text(credential["flags"]),
                    ]
                }))
        let findings = report["findings"] as? [[String: Any]] ?? []
        print("\nUnmanaged keys reported by scans: \(findings.count)")
        for finding in findings {
            print(
                Display.printable(
                    "  \(Governance.text(finding["rule"]))  \(Governance.text(finding["path"])):\(Governance.text(finding["line"]))"
                        + InventoryByOwner.origin(finding)))
        }
        print("\nSummary")
        print(
            TextTable.render(
                headers: ["ENV", "KEYS", "ACTIVE", "REVOKED", "STALE", "EXPIRING", "OVER AGE", "NO OWNER", "SPEND"],
                rows: (report["summary"] as? [[String: Any]] ?? []).map { row in
                    ["env", "keys", "active", "revoked", "stale", "expiring", "over_max_age", "unowned"].map { Governance.text(row[$0]) }
                        + [Governance.dollars(row["spend_usd"])]
                }))
        ProviderKeysDisplay.renderInventory(report)
    }
}

enum Governance {
    static func object(_ data: Data) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }

    static func rows(_ data: Data) -> [[String: Any]] {
        object(data)["data"] as? [[String: Any]] ?? []
    }

    static func text(_ value: Any?) -> String {
        switch value {
        case let string as String: string
        case let number as NSNumber: number.stringValue
        case let list as [Any]: list.isEmpty ? "-" : list.map { text($0) }.joined(separator: ",")
        default: "-"
        }
    }

    static func dollars(_ value: Any?) -> String {
        guard let number = value as? NSNumber else { return "-" }
        return String(format: "$%.6f", number.doubleValue)
    }

    /// One CSV field. Text that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab or
    /// carriage return first: a key name anyone in the organization chose) gets a leading `'`.
    static func csvField(_ text: String) -> String {
        var text = text
        if text != "-", let first = text.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first), Double(text) == nil {
            text = "'" + text
        }
        return text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
            ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
    }
}
