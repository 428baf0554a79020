import Foundation
import PerimeterAlerts
import PerimeterCore
import Yams

/// The `alerts:` section, read as strictly as the rest of the file: one function per rule.
extension ConfigurationLoader {
    static func alerts(_ node: Node, reader: inout NodeReader) throws -> AlertSettings {
        var settings = AlertSettings()
        let fields = try reader.mapping(
            node, field: "alerts",
            allowed: ["thresholds", "spike", "new_source", "denial_burst", "invalid_key_burst", "channels"])
        for (name, value) in fields {
            let path = "alerts.\(name)"
            switch name {
            case "thresholds": settings.thresholds = try reader.thresholds(value, path)
            case "spike": settings.spike = try reader.spike(value, path, over: settings.spike)
            case "new_source":
                let source = try reader.mapping(value, field: path, allowed: ["learning", "enabled"])
                if let item = source["learning"] {
                    settings.newSourceLearning =
                        try reader.string(item, field: path) == "0s" ? 0 : try reader.alertSeconds(item, path + ".learning")
                }
                if let item = source["enabled"], item.bool == false { settings.newSourceLearning = nil }
            case "denial_burst": settings.denialBurst = try reader.burst(value, path)
            case "invalid_key_burst": settings.invalidKeyBurst = try reader.burst(value, path)
            default: settings.channels = try reader.alertChannels(value, path)
            }
        }
        return settings
    }
}

extension NodeReader {
    fileprivate func alertSeconds(_ node: Node, _ field: String) throws -> TimeInterval {
        try duration(node, field: field, example: "30s, 5m or 24h")
    }

    fileprivate func number(_ node: Node, _ field: String) throws -> Double {
        guard let value = node.float ?? node.int.map(Double.init), value >= 0 else {
            throw error(node, field, "must be a number, 0 or more", fix: "write e.g. 3")
        }
        return value
    }

    fileprivate func thresholds(_ value: Node, _ path: String) throws -> [Double] {
        guard let list = value.sequence else {
            throw error(value, path, "must be a list of fractions", fix: "write e.g. [0.5, 0.8, 1.0]")
        }
        return try list.map { item in
            let fraction = try number(item, path)
            guard fraction > 0, fraction <= 10 else {
                throw error(item, path, "\(fraction) is not a fraction of a budget", fix: "write 0.5 for 50 %")
            }
            return fraction
        }.sorted()
    }

    fileprivate func spike(_ value: Node, _ path: String, over defaults: SpikeWatch.Rule) throws -> SpikeWatch.Rule {
        var rule = defaults
        let spike = try mapping(value, field: path, allowed: ["window", "factor", "min_requests", "min_usd"])
        if let item = spike["window"] { rule.window = try alertSeconds(item, path + ".window") }
        if let item = spike["factor"] { rule.factor = max(1, try number(item, path + ".factor")) }
        if let item = spike["min_requests"] { rule.minimumRequests = try positiveInt(item, field: path + ".min_requests") }
        if let item = spike["min_usd"] { rule.minimumCost = Money(usd: try number(item, path + ".min_usd")) }
        return rule
    }

    fileprivate func burst(_ node: Node, _ field: String) throws -> BurstRule {
        let fields = try mapping(node, field: field, allowed: ["count", "window"])
        var rule = BurstRule(count: 20, window: 60)
        if let count = fields["count"] { rule.count = try positiveInt(count, field: field + ".count") }
        if let window = fields["window"] { rule.window = try alertSeconds(window, field + ".window") }
        return rule
    }

    fileprivate func alertChannels(_ value: Node, _ path: String) throws -> [AlertChannel] {
        guard let list = value.sequence else {
            throw error(value, path, "must be a list of channels", fix: "write - { name: ops, kind: webhook, url: ... }")
        }
        var names: Set<String> = []
        return try list.enumerated().map { index, item in
            let channel = try alertChannel(item, "\(path)[\(index)]")
            guard names.insert(channel.name).inserted else {
                throw error(item, "\(path)[\(index)].name", "'\(channel.name)' is used twice", fix: "name each channel once")
            }
            return channel
        }
    }

    private func alertChannel(_ item: Node, _ itemPath: String) throws -> AlertChannel {
        let channel = try mapping(item, field: itemPath, allowed: ["name", "kind", "url", "secret", "min_severity", "envs"])
        guard let nameNode = channel["name"], let kindNode = channel["kind"], let urlNode = channel["url"] else {
            throw error(item, itemPath, "needs name, kind and url", fix: "write { name: ops, kind: webhook, url: https://... }")
        }
        let name = try string(nameNode, field: itemPath + ".name")
        guard let kind = AlertChannel.Kind(rawValue: try string(kindNode, field: itemPath + ".kind")) else {
            throw error(kindNode, itemPath + ".kind", "unknown kind", fix: "write webhook or slack")
        }
        let urlText = try string(urlNode, field: itemPath + ".url")
        let target: AlertChannel.Target
        if urlText.hasPrefix("http://") || urlText.hasPrefix("https://") {
            guard URL(string: urlText)?.host != nil else {
                throw error(urlNode, itemPath + ".url", "'\(urlText)' is not a URL", fix: "write https://host/path")
            }
            target = .url(urlText)
        } else {
            target = .reference(try secretReference(urlNode, field: itemPath + ".url"))
        }
        var severity = AlertSeverity.info
        if let node = channel["min_severity"] {
            guard let parsed = AlertSeverity(rawValue: try string(node, field: itemPath + ".min_severity")) else {
                throw error(node, itemPath + ".min_severity", "unknown severity", fix: "write info, warning or critical")
            }
            severity = parsed
        }
        var envs: [String]?
        if let node = channel["envs"] {
            guard let list = node.sequence else { throw error(node, itemPath + ".envs", "must be a list", fix: "write [prod]") }
            envs = try list.map { try string($0, field: itemPath + ".envs") }
        }
        return AlertChannel(
            name: name, kind: kind, target: target,
            secret: try channel["secret"].map { try secretReference($0, field: itemPath + ".secret") },
            minimumSeverity: severity, environments: envs)
    }
}
