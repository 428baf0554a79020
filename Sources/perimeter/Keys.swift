import ArgumentParser
import Foundation
import NIOHTTP1
import PerimeterCore
import PerimeterGateway

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create, list, show and revoke virtual keys.",
        subcommands: [Create.self, List.self, Show.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a virtual key; its secret is shown once.")
        @Option(help: "What the key is for, e.g. billing-service.") var name: String
        @Option(help: "Environment: lowercase letters, digits and '-', e.g. prod.") var env: String
        @Option(help: "Who answers for the key, e.g. a team or an email.") var owner: String?
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let client = AdminClient.fromEnvironment()
            let data = try await client.sendRaw(.POST, "/keys", body: CreateKeyRequest(name: name, env: env, owner: owner))
            if output.json { return Display.printJSON(data) }
            let key = try JSONDecoder().decode(KeyView.self, from: data)
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
        print(
            TextTable.render(
                headers: ["FIELD", "VALUE"],
                rows: [
                    ["id", key.id], ["name", key.name], ["env", key.env], ["owner", key.owner ?? "-"], ["prefix", key.prefix],
                    ["status", key.status], ["created", Display.time(key.createdAt)], ["revoked", Display.time(key.revokedAt)],
                    ["last used", Display.time(key.lastUsedAt)],
                ]))
    }

    static func pathSegment(_ id: String) throws -> String {
        guard !id.isEmpty, id.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
            throw CLIError("'\(id)' is not a key id; ids look like key_4fT9aQ2bX7cD1eF0")
        }
        return id
    }
}
