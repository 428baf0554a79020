import ArgumentParser

/// `perimeter`: the gateway (`serve`) and its admin CLI, a client of the admin API.
@main
struct PerimeterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perimeter",
        abstract: "A self-hosted control point for LLM API keys.",
        discussion: """
            Admin commands talk to a running gateway: PERIMETER_URL (default http://127.0.0.1:8080) and \
            PERIMETER_ADMIN_TOKEN (default: the token the gateway saved on first start).
            """,
        subcommands: [
            Serve.self, Keys.self, Secrets.self, Calls.self, Spend.self, Inventory.self, ProviderKeys.self, Audit.self, Admins.self,
            Alerts.self, Scan.self,
            Hook.self, Database.self, Prices.self,
        ]
    )
}
