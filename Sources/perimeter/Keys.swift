import ArgumentParser
import Foundation
import NIOHTTP1
import PerimeterAdminModels
import PerimeterCore

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list, show and revoke virtual keys.",
        subcommands: [Create.self, List.self, Show.self, Update.self, Rotate.self, Revoke.self])

    /// `--rotate-every`, `--rotation-grace` and `--deliver-to`, shared by create and update.
    struct RotationOptions: ParsableArguments {
        @Option(help: "Rotate the key on this schedule, e.g. 30d; needs --deliver-to so the application gets each new secret.")
        var rotateEvery: String?
        @Option(help: "How long the previous secret keeps working after a scheduled rotation (default 24h).")
        var rotationGrace: String?
        @Option(help: "Write each new secret here: store:NAME (built-in store) or file:/ABSOLUTE/PATH (mode 0600).")
        var deliverTo: String?
        @Flag(help: "Remove the key's rotation schedule and delivery target.") var noRotation = false

        /// The `rotation` member of a request body, or nil when no flag was given.
        func member() throws -> Any? {
            if noRotation {
                guard rotateEvery == nil, deliverTo == nil, rotationGrace == nil else {
                    throw CLIError("--no-rotation cannot be combined with other rotation flags")
                }
                return [String: Any]()
            }
            guard rotateEvery != nil || deliverTo != nil || rotationGrace != nil else { return nil }
            if rotateEvery != nil, deliverTo == nil {
                throw CLIError("--rotate-every needs --deliver-to: a scheduled rotation must deliver the new secret somewhere")
            }
            var rotation: [String: Any] = [:]
            if let rotateEvery { rotation["every"] = rotateEvery }
            if let rotationGrace { rotation["grace"] = rotationGrace }
            if let deliverTo { rotation["deliver_to"] = deliverTo }
            return rotation
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a new secret for a key (same id, limits and spend); the old one works until the grace ends.",
            discussion: """
                The new secret is shown once (and written to the key's --deliver-to target, if it has one). A retried \
                rotate with the same --idempotency-key returns the same new secret instead of issuing another.
                """)
        @Argument(help: "The key's id (key_...).") var id: String
        @Option(help: "How long the old secret keeps working, e.g. 0s, 1h, 24h (default 24h).") var grace: String?
        @Option(help: "Makes retries safe: the same value returns the same new secret.") var idempotencyKey: String?
        @OptionGroup var output: OutputOptions

        func run() async throws {
            var body: [String: Any] = [:]
            if let grace { body["grace"] = grace }
            let data = try await AdminClient.fromEnvironment().sendRaw(
                .POST, "/keys/\(try Keys.pathSegment(id))/rotate", body: JSONObject(members: body),
                headers: idempotencyKey.map { [("Idempotency-Key", $0)] } ?? [])
            if output.json { return Display.printJSON(data) }
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            let key = object["key"] as? [String: Any] ?? [:]
            print(
                """
                Rotated key \(key["id"] as? String ?? id) to generation \(key["generation"] as? Int ?? 0).

                    \(key["key"] as? String ?? "")

                The previous secret (generation \(object["previous_generation"] as? Int ?? 0)) works until \(Display.time(object["previous_retires_at"] as? String)), then gets 401 key_rotated.
                """)
            if let target = object["delivered_to"] as? String { print("Delivered to \(target).") }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a virtual key; its secret is shown once.")
        @Option(help: "What the key is for, e.g. billing-service.") var name: String
        @Option(help: "Environment: lowercase letters, digits and '-', e.g. prod (a canary defaults to prod).") var env: String?
        @Option(help: "Who answers for the key, e.g. a team or an email.") var owner: String?
        @OptionGroup(title: "Limits") var limits: LimitOptions
        @OptionGroup(title: "Rotation") var rotation: RotationOptions
        @Flag(
            help:
                "A decoy to plant where keys used to live: it never reaches a provider, answers like an unknown key, and any use raises a critical alert."
        )
        var canary = false
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let client = AdminClient.fromEnvironment()
            // A canary should look like the real thing, so by default it is a prod key.
            guard let env = env ?? (canary ? "prod" : nil) else { throw ValidationError("Missing expected argument '--env <env>'") }
            var body: [String: Any] = ["name": name, "env": env]
            let members = try limits.members()
            if !members.isEmpty || !canary { body["limits"] = members }
            if let owner { body["owner"] = owner }
            if let member = try rotation.member() { body["rotation"] = member }
            if canary { body["canary"] = true }
            let data = try await client.sendRaw(.POST, "/keys", body: JSONObject(members: body))
            if output.json { return Display.printJSON(data) }
            let key = try JSONDecoder().decode(KeyView.self, from: data)
            if key.canary {
                return print(
                    """
                    Created canary key \(key.id) (\(key.name), env \(key.env)).

                        \(key.key ?? "")

                    Plant it where a real key would be found (an old script, a .env file). It never reaches a
                    provider; any use answers 401 like an unknown key and raises a critical canary_used alert.
                    """)
            }
            print(
                """
                Created key \(key.id) (\(key.name), env \(key.env)\(key.owner.map { ", owner \($0)" } ?? "")).

                    \(key.key ?? "")

                This is the only time the key is shown. Store it in your secret manager now.
                """)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List virtual keys, revoked ones included.")
        @Option(help: "Only keys of this environment.") var env: String?
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let data = try await AdminClient.fromEnvironment().sendRaw(.GET, "/keys", query: [("env", env)])
            if output.json { return Display.printJSON(data) }
            let keys = try JSONDecoder().decode(ListEnvelope<KeyView>.self, from: data).data
            guard !keys.isEmpty else { return print("No keys yet. Create one with: perimeter keys create --name NAME --env ENV") }
            print(
                TextTable.render(
                    headers: ["ID", "NAME", "ENV", "OWNER", "PREFIX", "STATUS", "CREATED", "LAST USED"],
                    rows: keys.map {
                        [
                            $0.id, $0.name, $0.env, $0.owner ?? "-", $0.prefix, $0.status, Display.time($0.createdAt),
                            Display.time($0.lastUsedAt),
                        ]
                    }))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one virtual key.")
        @Argument(help: "The key's id (key_...).") var id: String
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let data = try await AdminClient.fromEnvironment().sendRaw(.GET, "/keys/\(try Keys.pathSegment(id))")
            if output.json { return Display.printJSON(data) }
            Keys.printDetails(try JSONDecoder().decode(KeyView.self, from: data))
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a key's name, owner or limits; the change applies from the next request.",
            discussion: "Only the flags given change; --no-budget, --any-ip and the like remove a limit.")
        @Argument(help: "The key's id (key_...).") var id: String
        @Option(help: "New name.") var name: String?
        @Option(help: "New owner.") var owner: String?
        @OptionGroup(title: "Limits") var limits: LimitOptions
        @OptionGroup(title: "Removing limits") var clear: ClearOptions
        @OptionGroup(title: "Rotation") var rotation: RotationOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            var changes = try limits.members()
            for (field, value) in clear.members() {
                guard changes[field] == nil else { throw CLIError("a limit cannot be both set and removed (\(field))") }
                changes[field] = value
            }
            var body: [String: Any] = [:]
            if !changes.isEmpty { body["limits"] = changes }
            if let name { body["name"] = name }
            if let owner { body["owner"] = owner }
            if let member = try rotation.member() { body["rotation"] = member }
            guard !body.isEmpty else { throw CLIError("nothing to change: give a limit flag, a rotation flag, --name or --owner") }
            let data = try await AdminClient.fromEnvironment().sendRaw(
                .PATCH, "/keys/\(try Keys.pathSegment(id))", body: JSONObject(members: body))
            if output.json { return Display.printJSON(data) }
            Keys.printDetails(try JSONDecoder().decode(KeyView.self, from: data))
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a virtual key at once; its history is kept.")
        @Argument(help: "The key's id (key_...).") var id: String
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let data = try await AdminClient.fromEnvironment().sendRaw(.DELETE, "/keys/\(try Keys.pathSegment(id))")
            if output.json { return Display.printJSON(data) }
            let key = try JSONDecoder().decode(KeyView.self, from: data)
            print("Revoked key \(key.id) (\(key.name)) at \(Display.time(key.revokedAt)). Calls with it now get 401 key_revoked.")
        }
    }

    static func printDetails(_ key: KeyView) {
        var rows = [
            ["id", key.id], ["name", key.name], ["env", key.env], ["owner", key.owner ?? "-"], ["prefix", key.prefix],
            ["status", key.status], ["generation", String(key.generation)], ["created", Display.time(key.createdAt)],
            ["rotated", Display.time(key.rotatedAt)], ["revoked", Display.time(key.revokedAt)],
            ["last used", Display.time(key.lastUsedAt)],
        ]
        if let rotation = key.rotation {
            rows.append(["rotation", "every \(rotation.every ?? "-"), grace \(rotation.grace ?? "24h"), to \(rotation.deliverTo ?? "-")"])
        }
        rows += limitRows(key.limits)
        if let budget = key.budget { rows += budgetRows("budget", budget) }
        if let budget = key.environmentBudget { rows += budgetRows("env budget", budget) }
        print(TextTable.render(headers: ["FIELD", "VALUE"], rows: rows))
    }

    static func limitRows(_ limits: KeyPolicy) -> [[String]] {
        let tools: String
        switch limits.tools {
        case .allowed: tools = "any"
        case .denied: tools = "none"
        case .only(let names): tools = names.joined(separator: ", ")
        }
        return [
            ["rpm", limits.requestsPerMinute.map(String.init) ?? "unlimited"],
            ["tpm", limits.tokensPerMinute.map(String.init) ?? "unlimited"],
            ["allowed ips", limits.allowedIPs.isEmpty ? "any" : limits.allowedIPs.map(\.description).joined(separator: ", ")],
            ["models", limits.allowedModels.isEmpty ? "any" : limits.allowedModels.map(\.description).joined(separator: ", ")],
            ["operations", limits.allowedOperations.map { $0.map(\.rawValue).sorted().joined(separator: ", ") } ?? "any"],
            ["providers", limits.allowedProviders.isEmpty ? "any" : limits.allowedProviders.joined(separator: ", ")],
            ["tools", tools],
            ["expires", limits.expiresAt.map { Display.time(Timestamp.format($0)) } ?? "never"],
        ]
    }

    static func budgetRows(_ label: String, _ budget: BudgetView) -> [[String]] {
        [
            [label, "\(budget.limit) per \(budget.period.rawValue == "total" ? "lifetime" : budget.period.rawValue)"],
            ["  spent", budget.spent.description + (budget.reserved > .zero ? " (+\(budget.reserved) reserved)" : "")],
            ["  remaining", budget.remaining.description],
            ["  resets", budget.resetsAt.map(Display.time) ?? "never"],
        ]
    }

    static func pathSegment(_ id: String) throws -> String {
        guard !id.isEmpty, id.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
            throw CLIError("'\(id)' is not a key id; ids look like key_4fT9aQ2bX7cD1eF0")
        }
        return id
    }
}
