import ArgumentParser
import Foundation
import PerimeterCore

/// `--json`, shared by every command.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print JSON for machines instead of a table.")
    var json = false
}

/// Text output for people: aligned columns, two spaces apart.
enum TextTable {
    static func render(headers: [String], rows: [[String]]) -> String {
        let rows = rows.map { $0.map(Display.printable) }
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        return ([line(headers)] + rows.map(line)).joined(separator: "\n")
    }
}

enum Display {
    /// `text` with control characters (C0, DEL, C1) written as `\xNN`: a key name or a scanned path
    /// can hold anything, and printed raw an escape sequence would rewrite the operator's terminal.
    static func printable(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if isControl(scalar) {
                out += "\\x" + String(scalar.value, radix: 16, uppercase: false).leftPadded(to: 2)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    /// `2026-11-29 09:12:03Z` from an RFC 3339 time, `-` for none.
    static func time(_ text: String?) -> String {
        guard let text, let date = Timestamp.parse(text) else { return "-" }
        return date.formatted(Date.ISO8601FormatStyle(dateSeparator: .dash, dateTimeSeparator: .space, timeZone: .gmt))
    }

    static func cost(_ money: Money?) -> String {
        money.map(\.description) ?? "unpriced"
    }

    static func printJSON(_ data: Data) {
        // Re-encode through JSONSerialization for stable, readable output.
        if let object = try? JSONSerialization.jsonObject(with: data),
            let pretty = try? JSONSerialization.data(
                withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        {
            print(String(decoding: pretty, as: UTF8.self))
        } else {
            print(String(decoding: data, as: UTF8.self))
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
