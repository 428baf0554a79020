import ArgumentParser
import Foundation
import PerimeterAdminModels
import PerimeterCore

struct Calls: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the call log, newest first.")
    @Option(help: "Only calls with this key id.") var key: String?
    @Option(help: "Only calls of this environment.") var env: String?
    @Option(help: "How far back: 15m, 1h, 7d, or an RFC 3339 time.") var since: String?
    @Option(help: "At most this many calls (default 50).") var limit: Int = 50
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let data = try await AdminClient.fromEnvironment().sendRaw(
            .GET, "/calls", query: [("key_id", key), ("env", env), ("since", since), ("limit", String(limit))])
        if output.json { return Display.printJSON(data) }
        let calls = try JSONDecoder().decode(ListEnvelope<CallRecord>.self, from: data).data
        guard !calls.isEmpty else { return print("No calls match.") }
        print(
            TextTable.render(
                headers: [
                    "TIME", "KEY", "GEN", "ENV", "CLIENT", "PROVIDER", "MODEL", "OP", "STATUS", "OUTCOME", "IN", "OUT", "USAGE", "COST",
                    "MS",
                ],
                rows: calls.map { call in
                    [
                        Display.time(Timestamp.format(call.time)), call.keyName ?? call.keyID ?? "-",
                        call.keyGeneration.map(String.init) ?? "-", call.env ?? "-",
                        call.clientIP ?? "-", call.provider ?? "-", call.model ?? "-",
                        call.operation.rawValue + (call.stream ? "+stream" : ""),
                        String(call.status), call.outcome.rawValue + (call.errorCode.map { " (\($0))" } ?? ""),
                        String(call.usage.inputTokens), String(call.usage.outputTokens), call.usageSource?.rawValue ?? "-",
                        Display.cost(call.cost),
                        String(call.latencyMS),
                    ]
                }))
    }
}

struct Spend: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show spend per key, environment, model or owner.")
    @Option(help: "Group by key, env, model, owner or provider.") var by: String = "key"
    @Option(help: "How far back: 24h, 30d, or an RFC 3339 time (default: all time).") var since: String?
    @Option(help: "Calls before this time only: 1h (back from now) or an RFC 3339 time (default: now).") var until: String?
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let data = try await AdminClient.fromEnvironment().sendRaw(
            .GET, "/spend", query: [("group_by", by), ("since", since), ("until", until)])
        if output.json { return Display.printJSON(data) }
        let report = try JSONDecoder().decode(SpendReport.self, from: data)
        guard !report.data.isEmpty else { return print("No calls in this window.") }
        let rows = (report.data + [report.total]).map { row in
            [
                row.group.isEmpty ? "(none)" : row.group, String(row.calls), String(row.inputTokens), String(row.cachedInputTokens),
                String(row.outputTokens), row.cost.description + (row.unpricedCalls > 0 ? " (+\(row.unpricedCalls) unpriced)" : ""),
            ]
        }
        print(TextTable.render(headers: [report.groupBy.rawValue.uppercased(), "CALLS", "INPUT", "CACHED", "OUTPUT", "COST"], rows: rows))
    }
}
