import ArgumentParser
import Foundation

/// `perimeter inventory --by`.
enum InventoryGrouping: String, ExpressibleByArgument, CaseIterable {
    case owner
}

/// `perimeter inventory --by owner`: the inventory's `owners` section, one row per key a person
/// has: found on their machines (by `scan --sweep --report --owner`) or issued to them and not found.
enum InventoryByOwner {
    static func show(_ data: Data, json: Bool) {
        let report = Governance.object(data)
        let owners = report["owners"] as? [[String: Any]] ?? []
        if json {
            let document: [String: Any] = ["generated_at": report["generated_at"] ?? NSNull(), "owners": owners]
            let encoded = (try? JSONSerialization.data(withJSONObject: document)) ?? Data("{}".utf8)
            return Display.printJSON(encoded)
        }
        guard !owners.isEmpty else {
            return print("No owners yet: no key has an owner and no scan reported one (perimeter scan --sweep --report --owner NAME).")
        }
        print(TextTable.render(headers: ["OWNER", "KEY", "RULE", "CLASS", "FOUND AT"], rows: owners.flatMap(rows)))
        print("")
        for owner in owners { print(Display.printable(summary(owner))) }
    }

    static func rows(_ owner: [String: Any]) -> [[String]] {
        let name = Governance.text(owner["owner"])
        let keys = owner["keys"] as? [[String: Any]] ?? []
        var found = Set<String>()
        var rows: [[String]] = keys.map { key in
            let id = key["managed_key_id"] as? String
            if let id { found.insert(id) }
            let locations = (key["locations"] as? [[String: Any]] ?? []).map { location in
                let line = (location["line"] as? NSNumber).map { ":\($0)" } ?? ""
                return (location["hostname"] as? String).map { "\($0):" }.map { $0 + Governance.text(location["path"]) + line }
                    ?? Governance.text(location["path"]) + line
            }
            let sha = Governance.text(key["sha256"])
            return [
                name, id ?? "sha256:" + sha.prefix(12), Governance.text(key["rule"]), Governance.text(key["classification"]),
                locations.joined(separator: ", "),
            ]
        }
        for id in owner["virtual_keys"] as? [String] ?? [] where !found.contains(id) {
            rows.append([name, id, "perimeter-virtual-key", "managed", "issued to \(name), not found on a machine"])
        }
        return rows
    }

    /// `alice (alice-laptop): 4 keys found: 1 provider_key_held_by_gateway, 2 provider_key, 1 managed; 2 virtual keys issued`.
    static func summary(_ owner: [String: Any]) -> String {
        let hostnames = owner["hostnames"] as? [String] ?? []
        let keys = owner["keys"] as? [[String: Any]] ?? []
        let counts = owner["classifications"] as? [String: Any] ?? [:]
        let order = ["provider_key_held_by_gateway", "provider_key", "managed"]
        let parts = order.compactMap { name in (counts[name] as? NSNumber).map { "\($0) \(name)" } }
        let issued = (owner["virtual_keys"] as? [String] ?? []).count
        return "\(Governance.text(owner["owner"]))" + (hostnames.isEmpty ? "" : " (\(hostnames.joined(separator: ", ")))")
            + ": \(keys.count) key(s) found" + (parts.isEmpty ? "" : ": " + parts.joined(separator: ", "))
            + "; \(issued) virtual key(s) issued"
            + ((counts["provider_key_held_by_gateway"] as? NSNumber).map { _ in
                ". Critical: the gateway's own provider key is there; rotate it."
            } ?? "")
    }

    /// ` (alice@alice-laptop, provider_key)` after a finding of the plain inventory, when it has an owner.
    static func origin(_ finding: [String: Any]) -> String {
        guard let owner = finding["owner"] as? String else { return "" }
        let host = (finding["hostname"] as? String).map { "@" + $0 } ?? ""
        let classification = (finding["classification"] as? String).map { ", " + $0 } ?? ""
        return "  (\(owner)\(host)\(classification))"
    }
}
