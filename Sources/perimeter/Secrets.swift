import ArgumentParser
import Foundation
import NIOHTTP1
import PerimeterCore

struct Secrets: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the built-in encrypted secret store (store:NAME references) and reload cached secrets.",
        discussion: """
            Values are read from standard input, never from arguments (which end up in shell history):
                printf %s "$OPENAI_API_KEY" | perimeter secrets put openai
            On a terminal, the value is asked for without echo. No command ever prints a value.
            """,
        subcommands: [Put.self, Rotate.self, List.self, Delete.self, Reload.self])

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store a new secret (version 1); the value is read from standard input.")
        @Argument(help: "The secret's name, as in store:NAME.") var name: String
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await Secrets.write(.PUT, path: "/secrets/\(try Secrets.checked(name))", name: name, output: output)
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store a new version of a secret from standard input; it is used from the next request.")
        @Argument(help: "The secret's name.") var name: String
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await Secrets.write(.POST, path: "/secrets/\(try Secrets.checked(name))/rotate", name: name, output: output)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List stored secrets: names, versions and times, never values.")
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let data = try await AdminClient.fromEnvironment().sendRaw(.GET, "/secrets")
            if output.json { return Display.printJSON(data) }
            let rows = Governance.rows(data)
            guard !rows.isEmpty else {
                return print("No secrets stored yet. Store one with: printf %s \"$KEY\" | perimeter secrets put NAME")
            }
            print(
                TextTable.render(
                    headers: ["NAME", "VERSION", "VERSIONS", "CREATED", "UPDATED", "USED BY"],
                    rows: rows.map { row in
                        [
                            row["name"] as? String ?? "", Governance.text(row["version"]), Governance.text(row["versions"]),
                            Display.time(row["created_at"] as? String), Display.time(row["updated_at"] as? String),
                            Governance.text(row["used_by"]),
                        ]
                    }))
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a secret with all its versions; providers using it answer 502 secret_unavailable.")
        @Argument(help: "The secret's name.") var name: String
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let data = try await AdminClient.fromEnvironment().sendRaw(.DELETE, "/secrets/\(try Secrets.checked(name))")
            if output.json { return Display.printJSON(data) }
            print("Deleted secret \(name) and all its versions.")
        }
    }

    struct Reload: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fetch every secret the gateway uses from its store now, instead of at the next refresh.")
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let data = try await AdminClient.fromEnvironment().sendRaw(.POST, "/secrets/reload", body: JSONObject(members: [:]))
            let rows = Governance.rows(data)
            if output.json {
                Display.printJSON(data)
            } else {
                print(Secrets.checkTable(rows))
            }
            if rows.contains(where: { $0["status"] as? String != "ok" }) { throw ExitCode(1) }
        }
    }

    /// The table of `secrets reload` and `serve --check`.
    static func checkTable(_ rows: [[String: Any]]) -> String {
        guard !rows.isEmpty else { return "The configuration references no secrets." }
        return TextTable.render(
            headers: ["REFERENCE", "STORE", "STATUS", "VERSION", "USED BY", "PROBLEM"],
            rows: rows.map { row in
                [
                    row["reference"] as? String ?? "", row["store"] as? String ?? "", row["status"] as? String ?? "",
                    Governance.text(row["version"]), Governance.text(row["used_by"]), row["error"] as? String ?? "",
                ]
            })
    }

    static func write(_ method: HTTPMethod, path: String, name: String, output: OutputOptions) async throws {
        let value = try readSecretFromStandardInput(prompt: "Value of secret \(name): ")
        let data = try await AdminClient.fromEnvironment().sendRaw(
            method, path, body: JSONObject(members: ["value": value.revealed]))
        if output.json { return Display.printJSON(data) }
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        print(
            "Stored secret \(name), version \(Governance.text(object["version"])). Providers using store:\(name) use it from the next request."
        )
    }

    /// Standard input up to its end, without the trailing newline; on a terminal, one line read with echo off.
    static func readSecretFromStandardInput(prompt: String) throws -> Secret {
        var text: String
        if isatty(STDIN_FILENO) == 1 {
            FileHandle.standardError.write(Data(prompt.utf8))
            var original = termios()
            tcgetattr(STDIN_FILENO, &original)
            var silent = original
            silent.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
            text = readLine(strippingNewline: true) ?? ""
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &original)
            FileHandle.standardError.write(Data("\n".utf8))
        } else {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            if text.hasSuffix("\n") { text.removeLast() }
            if text.hasSuffix("\r") { text.removeLast() }
        }
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw CLIError("no value on standard input; pipe it in, e.g. printf %s \"$KEY\" | perimeter secrets put NAME")
        }
        return Secret(text)
    }

    static func checked(_ name: String) throws -> String {
        guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) else {
            throw ValidationError("'\(name)' is not a valid secret name; use letters, digits and . _ -")
        }
        return name
    }
}
