import ArgumentParser
import Foundation
import PerimeterCore

/// `perimeter provider-keys`: the keys OpenAI and Anthropic themselves list for the organization (read
/// with each provider's `admin_key`), and deactivating one that the gateway does not hold.
struct ProviderKeys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "provider-keys",
        abstract: "List the keys the providers themselves hold for your organization, and disable unmanaged ones.",
        subcommands: [List.self, Disable.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every provider key as of the last sync, with whether the gateway holds it.")
        @Flag(help: "Print the keys as CSV.") var csv = false
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let data = try await AdminClient.fromEnvironment().sendRaw(.GET, "/provider-keys")
            if output.json { return Display.printJSON(data) }
            ProviderKeysDisplay.render(Governance.rows(data), csv: csv)
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Deactivate a provider key at its provider (Anthropic: inactive; OpenAI: a user's project key deleted).",
            discussion: "Asks for confirmation on a terminal; elsewhere --yes is required. Never automatic; recorded in the audit log.")
        @Argument(help: "The provider's key id, as `perimeter provider-keys list` shows it.") var id: String
        @Option(help: "Why, for the audit log.") var reason: String?
        @Flag(help: "Check that the key can be disabled, and change nothing.") var dryRun = false
        @Flag(help: "Do not ask for confirmation.") var yes = false
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let client = try AdminClient.fromEnvironment()
            let path = "/provider-keys/\(try Keys.pathSegment(id))/disable"
            // A dry run first, always: it names the key for the question and refuses what cannot be done.
            let check = Governance.object(try await client.sendRaw(.POST, path, body: JSONObject(members: ["dry_run": true])))
            let key = check["key"] as? [String: Any] ?? [:]
            let label =
                "\(Governance.text(key["name"])) (\(id)) at \(Governance.text(key["provider"])), owner \(Governance.text(key["owner"]))"
            if dryRun {
                if output.json { return Display.printJSON(try JSONSerialization.data(withJSONObject: check)) }
                return print("Would disable \(label).")
            }
            if !yes {
                guard isatty(STDIN_FILENO) == 1, isatty(STDERR_FILENO) == 1 else {
                    throw CLIError("disabling \(id) needs --yes when not on a terminal")
                }
                FileHandle.standardError.write(Data("Disable \(label) at the provider? Calls with it will fail. [y/N] ".utf8))
                guard let answer = readLine(), ["y", "yes"].contains(answer.lowercased()) else {
                    throw CLIError("not disabled")
                }
            }
            var members: [String: Any] = ["dry_run": false]
            if let reason { members["reason"] = reason }
            let data = try await client.sendRaw(.POST, path, body: JSONObject(members: members))
            if output.json { return Display.printJSON(data) }
            print("Disabled \(label).")
        }
    }
}

/// `perimeter inventory sync`: read the providers' key lists and usage now.
struct InventorySync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync", abstract: "Read every provider's own key list and usage now (providers with an admin_key).")
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let data = try await AdminClient.fromEnvironment().sendRaw(.POST, "/inventory/sync")
        if output.json { return Display.printJSON(data) }
        let rows = Governance.rows(data)
        guard !rows.isEmpty else { return print("No provider has an admin_key: nothing to sync.") }
        ProviderKeysDisplay.renderSync(rows)
    }
}

enum ProviderKeysDisplay {
    static let columns = [
        "provider", "id", "kind", "name", "owner", "scope", "status", "held_as", "age_days", "last_used_at", "flags",
    ]

    static func render(_ keys: [[String: Any]], csv: Bool) {
        if csv {
            print(columns.joined(separator: ","))
            for key in keys { print(columns.map { Governance.csvField(Governance.text(key[$0])) }.joined(separator: ",")) }
            return
        }
        guard !keys.isEmpty else { return print("No provider keys: give a provider an admin_key and run perimeter inventory sync.") }
        print(
            TextTable.render(
                headers: ["PROVIDER", "ID", "KIND", "NAME", "OWNER", "SCOPE", "STATUS", "HELD AS", "AGE", "LAST USED", "FLAGS"],
                rows: keys.map { key in
                    [
                        Governance.text(key["provider"]), Governance.text(key["id"]), Governance.text(key["kind"]),
                        Governance.text(key["name"]), Governance.text(key["owner"]), Governance.text(key["scope"]),
                        Governance.text(key["status"]), Governance.text(key["held_as"]),
                        key["age_days"].map { "\(Governance.text($0))d" } ?? "-", Display.time(key["last_used_at"] as? String),
                        Governance.text(key["flags"]),
                    ].map(Display.printable)
                }))
    }

    static func renderSync(_ rows: [[String: Any]]) {
        print(
            TextTable.render(
                headers: ["PROVIDER", "STATUS", "KEYS", "SYNCED", "MESSAGE"],
                rows: rows.map { row in
                    [
                        Governance.text(row["provider"]), Governance.text(row["status"]), Governance.text(row["keys"]),
                        Display.time(row["synced_at"] as? String), Governance.text(row["message"]),
                    ].map(Display.printable)
                }))
    }

    /// The inventory's provider sections, after its others.
    static func renderInventory(_ report: [String: Any]) {
        let sync = report["provider_sync"] as? [[String: Any]] ?? []
        guard !sync.isEmpty else { return }
        print("\nProvider keys (as the providers list them)")
        render(report["provider_keys"] as? [[String: Any]] ?? [], csv: false)
        print("\nProvider key sync")
        renderSync(sync)
    }
}
