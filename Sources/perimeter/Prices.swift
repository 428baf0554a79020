import ArgumentParser
import Foundation
import PerimeterConfiguration
import PerimeterCore

/// `perimeter prices`: the price table calls are charged by, each entry with where it comes from.
struct Prices: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Show the prices calls are charged by: the built-in list prices (with the month they were taken) and the configuration's.",
        discussion: """
            Reads the configuration as serve does. With MODEL arguments, shows the entry each model is \
            priced by (a dated snapshot or a Bedrock id takes the price of the model it names), or that it \
            has none: a key with a budget is refused calls to an unpriced model until `prices:` gives one.
            """)

    @Option(help: "YAML configuration file.")
    var config: String?

    @Argument(help: "Models to look up, as clients name them.")
    var models: [String] = []

    @OptionGroup var output: OutputOptions

    struct Row: Encodable {
        var model: String
        var entry: String?
        var price: ModelPrice?
        /// `config`, or the vendor whose list it comes from.
        var source: String?
        /// The month a built-in price was taken from the vendor's list.
        var listed: String?
    }

    func run() async throws {
        let configuration = try Serve.loadConfiguration(file: config, database: nil, environment: ProcessInfo.processInfo.environment)
        let table = PriceTable.builtIn(overriddenBy: configuration.priceOverrides)
        let names = models.isEmpty ? table.entries.map(\.model) : models
        let rows = names.map { model -> Row in
            guard let entry = table.entryName(for: model) else { return Row(model: model) }
            let builtIn = configuration.priceOverrides[entry] == nil ? PriceTable.builtInSource(of: entry) : nil
            return Row(
                model: model, entry: entry, price: table.price(for: model), source: builtIn?.vendor ?? "config", listed: builtIn?.listed)
        }
        if output.json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            print(String(decoding: try encoder.encode(["data": rows]), as: UTF8.self))
            return
        }
        func usd(_ value: Double?) -> String { value.map { "$" + String(format: "%g", $0) } ?? "-" }
        print(
            TextTable.render(
                headers: ["MODEL", "PRICED AS", "INPUT", "CACHED IN", "CACHE WRITE", "OUTPUT", "ABOVE", "SOURCE", "LISTED"],
                rows: rows.map { row in
                    guard let price = row.price else { return [row.model, "no price", "-", "-", "-", "-", "-", "-", "-"] }
                    return [
                        row.model, row.entry == row.model ? "" : row.entry ?? "", usd(price.input), usd(price.cachedInput),
                        usd(price.cacheWrite), usd(price.output), price.longContext.map { "\($0.aboveInputTokens) tokens" } ?? "-",
                        row.source ?? "-", row.listed ?? "-",
                    ]
                }))
        if models.isEmpty { print("\nUSD per million tokens. ABOVE: a prompt longer than this is priced at the long-context rates.") }
    }
}
