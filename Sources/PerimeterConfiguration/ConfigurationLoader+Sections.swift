import Foundation
import PerimeterAlerts
import PerimeterCore
import PerimeterRotation
import PerimeterSecrets
import Yams

/// The `secrets:`, `rotation:` and `alerts:` sections, read as strictly as the rest of the file.
extension ConfigurationLoader {
    static func alerts(_ node: Node, reader: inout NodeReader) throws -> AlertSettings {
        var settings = AlertSettings()
        func seconds(_ node: Node, _ field: String) throws -> TimeInterval {
            try reader.duration(node, field: field, example: "30s, 5m or 24h")
        }
        func number(_ node: Node, _ field: String) throws -> Double {
            guard let value = node.float ?? node.int.map(Double.init), value >= 0 else {
                throw reader.error(node, field, "must be a number, 0 or more", fix: "write e.g. 3")
            }
            return value
        }
        func burst(_ node: Node, _ field: String) throws -> BurstRule {
            let fields = try reader.mapping(node, field: field, allowed: ["count", "window"])
            var rule = BurstRule(count: 20, window: 60)
            if let count = fields["count"] { rule.count = try reader.positiveInt(count, field: field + ".count") }
            if let window = fields["window"] { rule.window = try seconds(window, field + ".window") }
            return rule
        }
        let fields = try reader.mapping(
            node, field: "alerts",
            allowed: ["thresholds", "spike", "new_source", "denial_burst", "invalid_key_burst", "channels"])
        for (name, value) in fields {
            let path = "alerts.\(name)"
            switch name {
            case "thresholds":
                guard let list = value.sequence else {
                    throw reader.error(value, path, "must be a list of fractions", fix: "write e.g. [0.5, 0.8, 1.0]")
                }
                settings.thresholds = try list.map { item in
                    let fraction = try number(item, path)
                    guard fraction > 0, fraction <= 10 else {
                        throw reader.error(item, path, "\(fraction) is not a fraction of a budget", fix: "write 0.5 for 50 %")
                    }
                    return fraction
                }.sorted()
            case "spike":
                let spike = try reader.mapping(value, field: path, allowed: ["window", "factor", "min_requests", "min_usd"])
                if let item = spike["window"] { settings.spike.window = try seconds(item, path + ".window") }
                if let item = spike["factor"] { settings.spike.factor = max(1, try number(item, path + ".factor")) }
                if let item = spike["min_requests"] {
                    settings.spike.minimumRequests = try reader.positiveInt(item, field: path + ".min_requests")
                }
                if let item = spike["min_usd"] { settings.spike.minimumCost = Money(usd: try number(item, path + ".min_usd")) }
            case "new_source":
                let source = try reader.mapping(value, field: path, allowed: ["learning", "enabled"])
                if let item = source["learning"] {
                    settings.newSourceLearning = try reader.string(item, field: path) == "0s" ? 0 : try seconds(item, path + ".learning")
                }
                if let item = source["enabled"], item.bool == false { settings.newSourceLearning = nil }
            case "denial_burst": settings.denialBurst = try burst(value, path)
            case "invalid_key_burst": settings.invalidKeyBurst = try burst(value, path)
            default:
                guard let list = value.sequence else {
                    throw reader.error(value, path, "must be a list of channels", fix: "write - { name: ops, kind: webhook, url: ... }")
                }
                var names: Set<String> = []
                settings.channels = try list.enumerated().map { index, item in
                    let itemPath = "\(path)[\(index)]"
                    let channel = try reader.mapping(
                        item, field: itemPath, allowed: ["name", "kind", "url", "secret", "min_severity", "envs"])
                    guard let nameNode = channel["name"], let kindNode = channel["kind"], let urlNode = channel["url"] else {
                        throw reader.error(
                            item, itemPath, "needs name, kind and url", fix: "write { name: ops, kind: webhook, url: https://... }")
                    }
                    let name = try reader.string(nameNode, field: itemPath + ".name")
                    guard names.insert(name).inserted else {
                        throw reader.error(nameNode, itemPath + ".name", "'\(name)' is used twice", fix: "name each channel once")
                    }
                    guard let kind = AlertChannel.Kind(rawValue: try reader.string(kindNode, field: itemPath + ".kind")) else {
                        throw reader.error(kindNode, itemPath + ".kind", "unknown kind", fix: "write webhook or slack")
                    }
                    let urlText = try reader.string(urlNode, field: itemPath + ".url")
                    let target: AlertChannel.Target
                    if urlText.hasPrefix("http://") || urlText.hasPrefix("https://") {
                        guard URL(string: urlText)?.host != nil else {
                            throw reader.error(urlNode, itemPath + ".url", "'\(urlText)' is not a URL", fix: "write https://host/path")
                        }
                        target = .url(urlText)
                    } else {
                        target = .reference(try reader.secretReference(urlNode, field: itemPath + ".url"))
                    }
                    var severity = AlertSeverity.info
                    if let node = channel["min_severity"] {
                        guard let parsed = AlertSeverity(rawValue: try reader.string(node, field: itemPath + ".min_severity")) else {
                            throw reader.error(node, itemPath + ".min_severity", "unknown severity", fix: "write info, warning or critical")
                        }
                        severity = parsed
                    }
                    var envs: [String]?
                    if let node = channel["envs"] {
                        guard let list = node.sequence else {
                            throw reader.error(node, itemPath + ".envs", "must be a list", fix: "write [prod]")
                        }
                        envs = try list.map { try reader.string($0, field: itemPath + ".envs") }
                    }
                    return AlertChannel(
                        name: name, kind: kind, target: target,
                        secret: try channel["secret"].map { try reader.secretReference($0, field: itemPath + ".secret") },
                        minimumSeverity: severity, environments: envs)
                }
            }
        }
        return settings
    }

    static func rotation(_ node: Node, reader: inout NodeReader) throws -> RotationPolicy {
        var policy = RotationPolicy()
        func duration(_ node: Node, _ field: String) throws -> Duration {
            .seconds(Int64(try reader.duration(node, field: field, example: "90d, 12h or 4w")))
        }
        let fields = try reader.mapping(
            node, field: "rotation", allowed: ["max_age", "stale_after", "expiring_within", "credential_max_age"])
        for (name, value) in fields {
            let path = "rotation.\(name)"
            switch name {
            case "max_age":
                if value.mapping == nil {
                    policy.defaultMaxAge = try duration(value, path)
                    continue
                }
                for (env, item) in try reader.mapping(value, field: path, allowed: nil) {
                    let age = try duration(item, "\(path).\(env)")
                    if env == "default" {
                        policy.defaultMaxAge = age
                    } else {
                        policy.maxAges[env] = age
                    }
                }
            case "stale_after": policy.staleAfter = try duration(value, path)
            case "expiring_within": policy.expiringWithin = try duration(value, path)
            default: policy.credentialMaxAge = try duration(value, path)
            }
        }
        return policy
    }

    static func secrets(_ node: Node, reader: inout NodeReader) throws -> SecretsSettings {
        var settings = SecretsSettings()
        let fields = try reader.mapping(node, field: "secrets", allowed: ["cache_ttl", "grace", "vault", "aws"])
        for (name, value) in fields {
            switch name {
            case "cache_ttl":
                settings.cacheTTL = .seconds(try reader.positiveInt(value, field: "secrets.cache_ttl"))
            case "grace":
                settings.grace = .seconds(try reader.nonNegativeInt(value, field: "secrets.grace"))
            case "vault":
                let vault = try reader.mapping(
                    value, field: "secrets.vault", allowed: ["address", "namespace", "ca_file", "token", "approle"])
                for (field, item) in vault {
                    let path = "secrets.vault.\(field)"
                    switch field {
                    case "address":
                        let text = try reader.string(item, field: path)
                        guard let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                            throw reader.error(item, path, "'\(text)' is not an http(s) URL", fix: "write e.g. https://vault.internal:8200")
                        }
                        settings.vault.address = text
                    case "namespace": settings.vault.namespace = try reader.string(item, field: path)
                    case "ca_file": settings.vault.caFile = try reader.string(item, field: path)
                    case "token": settings.vault.token = try reader.secretReference(item, field: path)
                    default:
                        let approle = try reader.mapping(item, field: path, allowed: ["role_id", "secret_id", "mount"])
                        guard let roleID = approle["role_id"], let secretID = approle["secret_id"] else {
                            throw reader.error(
                                item, path, "needs role_id and secret_id",
                                fix: #"write { role_id: "...", secret_id: "env:VAULT_SECRET_ID" }"#)
                        }
                        settings.vault.appRole = AppRoleSettings(
                            roleID: try reader.string(roleID, field: path + ".role_id"),
                            secretID: try reader.secretReference(secretID, field: path + ".secret_id"),
                            mount: try approle["mount"].map { try reader.string($0, field: path + ".mount") } ?? "approle")
                    }
                }
                if settings.vault.token != nil, settings.vault.appRole != nil {
                    throw reader.error(value, "secrets.vault", "sets both token and approle", fix: "keep one of them")
                }
            default:
                let aws = try reader.mapping(value, field: "secrets.aws", allowed: ["region", "endpoint"])
                for (field, item) in aws {
                    let path = "secrets.aws.\(field)"
                    let text = try reader.string(item, field: path)
                    if field == "region" {
                        settings.aws.region = text
                    } else {
                        guard let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                            throw reader.error(
                                item, path, "'\(text)' is not an http(s) URL",
                                fix: "write e.g. https://secretsmanager.eu-west-1.amazonaws.com")
                        }
                        settings.aws.endpoint = text
                    }
                }
            }
        }
        return settings
    }
}
