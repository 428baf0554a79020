import ArgumentParser
import Foundation
import PerimeterCore

/// `perimeter alerts`: the alert history, and the rules that raise alerts.
struct Alerts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show raised alerts with their delivery state, or the alert rules.",
        subcommands: [List.self, Rules.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Alerts, newest first.")
        @Option(help: "Only since this long ago (15m, 24h, 7d) or this RFC 3339 time.") var since: String?
        @Option(help: "At most this many (default 500).") var limit: Int?
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let data = try await AdminClient.fromEnvironment().sendRaw(
                .GET, "/alerts", query: [("since", since), ("limit", limit.map(String.init))])
            if output.json { return Display.printJSON(data) }
            let rows = Governance.rows(data)
            guard !rows.isEmpty else { return print("No alerts\(since.map { " since \($0)" } ?? "").") }
            print(
                TextTable.render(
                    headers: ["TIME", "SEVERITY", "TYPE", "KEY", "ENV", "DELIVERY", "MESSAGE"],
                    rows: rows.map { row in
                        let deliveries = (row["deliveries"] as? [[String: Any]] ?? []).map {
                            "\(Governance.text($0["channel"])):\(Governance.text($0["status"]))"
                        }
                        return [
                            Display.time(row["time"] as? String), Governance.text(row["severity"]), Governance.text(row["type"]),
                            Governance.text(row["key_id"]), Governance.text(row["env"]),
                            deliveries.isEmpty ? "-" : deliveries.joined(separator: ","), Governance.text(row["message"]),
                        ]
                    }))
        }
    }

    struct Rules: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The alert rules in force and the channels alerts go to.")
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let data = try await AdminClient.fromEnvironment().sendRaw(.GET, "/alerts/rules")
            if output.json { return Display.printJSON(data) }
            let object = Governance.object(data)
            print(
                TextTable.render(
                    headers: ["TYPE", "SEVERITY", "RULE"],
                    rows: (object["rules"] as? [[String: Any]] ?? []).map {
                        [Governance.text($0["type"]), Governance.text($0["severity"]), Governance.text($0["rule"])]
                    }))
            let channels = object["channels"] as? [[String: Any]] ?? []
            print(channels.isEmpty ? "\nNo channels: alerts are recorded (perimeter alerts) and logged only." : "")
            if !channels.isEmpty {
                print(
                    TextTable.render(
                        headers: ["CHANNEL", "KIND", "MIN SEVERITY", "ENVS", "SIGNED"],
                        rows: channels.map {
                            [
                                Governance.text($0["name"]), Governance.text($0["kind"]), Governance.text($0["min_severity"]),
                                Governance.text($0["envs"]), ($0["signed"] as? Bool) == true ? "yes" : "no",
                            ]
                        }))
            }
        }
    }
}
