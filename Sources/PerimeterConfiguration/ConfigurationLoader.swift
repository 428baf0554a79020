import Foundation
import PerimeterCore
import PerimeterPostgres
import PerimeterProviders
import PerimeterSecrets
import Yams

/// Reads `perimeter.yaml` strictly: an unknown field, a wrong type, a bad URL, a duplicate provider or
/// a literal secret stops start-up with a ``ConfigurationError`` naming the file, line and field.
public enum ConfigurationLoader {
    static let topLevelFields: Set = [
        "listen", "database", "database_password", "admin_token", "providers", "prices", "max_body_bytes", "upstream_timeout",
        "upstream_connect_timeout", "call_log_flush_interval", "environments", "trusted_proxies", "upstream_max_connections",
        "secrets", "rotation", "alerts", "metrics", "streams", "budget_lease", "shutdown_timeout", "call_log_backlog",
        "inventory", "console",
    ]
    static let providerFields = Set(
        [
            "name", "kind", "base_url", "api_key", "models", "ca_file", "stream_usage", "api_version", "deployments", "entra",
        ] + bedrockFields + inventoryProviderFields)
    static let providerKinds = "openai, anthropic, gemini, bedrock, azure-openai or openai-compatible"
    static let priceFields: Set = ["input", "output", "cached_input", "cache_write", "long_context"]
    static let longContextFields: Set = ["above", "input", "output", "cached_input"]

    /// The configuration from `file` (if any), then the environment over it. Flags are applied after,
    /// by the CLI, through ``setListen(_:field:on:)`` and ``setDatabase(_:field:on:)``.
    public static func load(
        file: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> GatewayConfiguration {
        var configuration = GatewayConfiguration()
        configuration.homeDirectory = GatewayConfiguration.defaultHomeDirectory(environment: environment)
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ConfigurationError(
                    file: file, field: "(file)", problem: "cannot be read",
                    fix: "check the path given by --config or PERIMETER_CONFIG")
            }
            try apply(yaml: String(decoding: data, as: UTF8.self), file: file, to: &configuration)
        }
        try applyEnvironment(environment, to: &configuration)
        return configuration
    }

    public static func apply(yaml: String, file: String?, to configuration: inout GatewayConfiguration) throws {
        configuration.sourceFile = file
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigurationError(
                file: file, field: "(file)", problem: "is not valid YAML (\(error))", fix: "correct the YAML syntax")
        }
        guard let root else { return }
        var reader = NodeReader(file: file)
        let top = try reader.mapping(root, field: "(top level)", allowed: topLevelFields)
        if let node = top["listen"] {
            try reader.locating(node) { try setListen(try reader.string(node, field: "listen"), field: "listen", on: &configuration) }
        }
        if let node = top["database"] {
            try reader.locating(node) {
                try setDatabase(try reader.string(node, field: "database"), field: "database", on: &configuration)
            }
        }
        if let node = top["admin_token"] {
            configuration.adminToken = .reference(try reader.secretReference(node, field: "admin_token"))
        }
        if let node = top["database_password"] {
            let reference = try reader.secretReference(node, field: "database_password")
            // Read before the database opens, so not from the built-in store (which lives in it).
            guard reference.scheme != "store" else {
                throw reader.error(
                    node, "database_password", "\(reference.scheme): is not read before the database opens",
                    fix: "write env:NAME, file:PATH, vault:PATH#FIELD, aws-sm:ID or azure-kv:VAULT/SECRET")
            }
            configuration.databasePassword = reference
        }
        if let node = top["budget_lease"] {
            let seconds = try reader.duration(node, field: "budget_lease", example: "10s")
            guard (2...300).contains(seconds) else {
                throw reader.error(node, "budget_lease", "must be between 2s and 5m", fix: "write e.g. 10s")
            }
            configuration.budgetLease = seconds
        }
        if let node = top["shutdown_timeout"] {
            let seconds = try reader.duration(node, field: "shutdown_timeout", example: "30s")
            guard (1...600).contains(seconds) else {
                throw reader.error(node, "shutdown_timeout", "must be between 1s and 10m", fix: "write e.g. 30s")
            }
            configuration.shutdownTimeout = .milliseconds(Int64(seconds * 1000))
        }
        if let node = top["max_body_bytes"] {
            configuration.maximumBodySize = try reader.positiveInt(node, field: "max_body_bytes")
        }
        if let node = top["upstream_timeout"] {
            configuration.upstreamTimeout = .seconds(try reader.positiveInt(node, field: "upstream_timeout"))
        }
        if let node = top["upstream_connect_timeout"] {
            configuration.upstreamConnectTimeout = .seconds(try reader.positiveInt(node, field: "upstream_connect_timeout"))
        }
        if let node = top["upstream_max_connections"] {
            configuration.upstreamMaxConnections = try reader.positiveInt(node, field: "upstream_max_connections")
        }
        if let node = top["call_log_backlog"] {
            configuration.callLogBacklog = try reader.positiveInt(node, field: "call_log_backlog")
        }
        if let node = top["call_log_flush_interval"] {
            configuration.callLogFlushInterval = .milliseconds(try reader.positiveInt(node, field: "call_log_flush_interval"))
        }
        if let node = top["providers"] {
            configuration.providers = try providers(node, reader: &reader)
        }
        if let node = top["prices"] {
            configuration.priceOverrides = try prices(node, reader: &reader)
        }
        if let node = top["environments"] {
            configuration.environmentBudgets = try environments(node, reader: &reader)
        }
        if let node = top["metrics"] {
            let fields = try reader.mapping(node, field: "metrics", allowed: ["per_key_labels"])
            if let flag = fields["per_key_labels"] {
                guard let value = flag.bool else {
                    throw reader.error(flag, "metrics.per_key_labels", "must be true or false", fix: "write per_key_labels: true")
                }
                configuration.metricsPerKeyLabels = value
            }
        }
        if let node = top["alerts"] {
            configuration.alerts = try alerts(node, reader: &reader)
        }
        if let node = top["rotation"] {
            configuration.rotation = try rotation(node, reader: &reader)
        }
        if let node = top["console"] { configuration.console = try console(node, reader: &reader) }
        if let node = top["inventory"] {
            configuration.providerSyncInterval = try inventory(node, reader: &reader)
        }
        if let node = top["streams"] {
            configuration.streamDrainTimeout = try streams(node, reader: &reader)
        }
        if let node = top["secrets"] {
            configuration.secrets = try secrets(node, reader: &reader)
        }
        if let node = top["trusted_proxies"] {
            guard let list = node.sequence else {
                throw reader.error(node, "trusted_proxies", "must be a list", fix: #"write for example ["10.0.0.0/8"]"#)
            }
            configuration.trustedProxies = try list.map { item in
                let text = try reader.string(item, field: "trusted_proxies")
                guard let cidr = CIDR(text) else {
                    throw reader.error(
                        item, "trusted_proxies", "'\(text)' is not an IP address or CIDR", fix: "write e.g. 10.0.0.0/8 or ::1")
                }
                return cidr
            }
        }
    }

    static func applyEnvironment(_ environment: [String: String], to configuration: inout GatewayConfiguration) throws {
        if let listen = environment["PERIMETER_LISTEN"], !listen.isEmpty {
            try setListen(listen, field: "PERIMETER_LISTEN", on: &configuration)
        }
        if let database = environment["PERIMETER_DATABASE"], !database.isEmpty {
            try setDatabase(database, field: "PERIMETER_DATABASE", on: &configuration)
        }
        if let token = environment["PERIMETER_ADMIN_TOKEN"], !token.isEmpty {
            configuration.adminToken = .literal(Secret(token))
        }
    }

    /// Sets the listen address from `text`, which came from `field` (the YAML field, the environment
    /// variable or the flag): the one parser and the one message for all three.
    public static func setListen(_ text: String, field: String, on configuration: inout GatewayConfiguration) throws {
        guard let (host, port) = parseListen(text) else {
            throw ConfigurationError(field: field, problem: "'\(text)' is not HOST:PORT", fix: "write for example 127.0.0.1:8080")
        }
        (configuration.host, configuration.port) = (host, port)
    }

    /// Sets the database from `text`, which came from `field`.
    public static func setDatabase(_ text: String, field: String, on configuration: inout GatewayConfiguration) throws {
        if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://"), case .failure(let problem) = PostgresLocation.parse(text) {
            throw ConfigurationError(
                field: field, problem: "the PostgreSQL address \(problem)",
                fix: "write postgres://USER@HOST:PORT/DATABASE?sslmode=verify-full, the password in database_password")
        }
        guard let location = DatabaseLocation(parsing: text) else {
            throw ConfigurationError(
                field: field, problem: "'\(text)' is not a supported database", fix: "write sqlite:PATH, postgres://USER@HOST/DB or memory")
        }
        configuration.database = location
    }

    /// `HOST:PORT`, `:PORT` or `[IPv6]:PORT`.
    static func parseListen(_ text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    private static func providers(_ node: Node, reader: inout NodeReader) throws -> [ProviderConfiguration] {
        guard let sequence = node.sequence else {
            throw reader.error(node, "providers", "must be a list", fix: "write one '- name: ...' entry per provider")
        }
        var result: [ProviderConfiguration] = []
        for (index, item) in sequence.enumerated() {
            let path = "providers[\(index)]"
            let fields = try reader.mapping(item, field: path, allowed: providerFields)
            func required(_ name: String, fix: String) throws -> Node {
                guard let value = fields[name] else {
                    throw reader.error(item, "\(path).\(name)", "is missing", fix: fix)
                }
                return value
            }
            let name = try reader.string(try required("name", fix: "give the provider a unique name"), field: "\(path).name")
            guard PlainName.isValid(name, punctuation: "-_", maxLength: 64) else {
                throw reader.error(
                    item, "\(path).name", "'\(name)' is not a valid name",
                    fix: "use 1 to 64 ASCII letters, digits, '-' and '_', starting with a letter or digit")
            }
            guard !result.contains(where: { $0.name == name }) else {
                throw reader.error(item, "\(path).name", "duplicate provider '\(name)'", fix: "give each provider a unique name")
            }
            let kindNode = try required("kind", fix: "write kind: \(providerKinds)")
            let kindText = try reader.string(kindNode, field: "\(path).kind")
            let isCompatible = kindText == "openai-compatible"
            let isAzure = kindText == "azure-openai"
            guard let kind = isCompatible || isAzure ? .openAI : ProviderKind(rawValue: kindText) else {
                throw reader.error(kindNode, "\(path).kind", "unknown kind '\(kindText)'", fix: "write kind: \(providerKinds)")
            }
            var streamUsage = !isCompatible
            if let node = fields["stream_usage"] {
                guard isCompatible else {
                    throw reader.error(
                        node, "\(path).stream_usage", "applies to kind: openai-compatible only",
                        fix: "remove it; \(kindText) always reports a stream's usage")
                }
                streamUsage = try reader.bool(node, field: "\(path).stream_usage")
            }
            let bedrock = try bedrockSettings(fields, item: item, path: path, isBedrock: kind == .bedrock, reader: &reader)
            // Bedrock's endpoint follows from its region.
            var (urlNode, baseURL) = (kindNode, bedrock.map { "https://bedrock-runtime.\($0.region).amazonaws.com" } ?? "")
            if bedrock == nil || fields["base_url"] != nil {
                urlNode = try required("base_url", fix: "write the provider's API root, e.g. https://api.openai.com/v1")
                baseURL = try reader.string(urlNode, field: "\(path).base_url")
            }
            guard let url = URL(string: baseURL), let scheme = url.scheme, ["http", "https"].contains(scheme),
                url.host?.isEmpty == false
            else {
                throw reader.error(
                    urlNode, "\(path).base_url", "'\(baseURL)' is not an http(s) URL",
                    fix: "write the provider's API root, e.g. https://api.openai.com/v1")
            }
            // A self-hosted compatible server (vLLM, Ollama) may take no key; Azure may use Entra ID instead.
            let entra = try entraSettings(fields, path: path, isAzure: isAzure, reader: &reader)
            var apiKey: SecretReference?
            if let keyNode = fields["api_key"] {
                if entra != nil {
                    throw reader.error(keyNode, "\(path).api_key", "is set beside entra", fix: "keep one: the resource key or Entra ID")
                }
                apiKey = try reader.secretReference(keyNode, field: "\(path).api_key")
            } else if !isCompatible, entra == nil, bedrock?.aws == nil {
                _ = try required("api_key", fix: "write a secret reference such as env:OPENAI_API_KEY")
            }
            let azure = try azureDeployments(fields, path: path, isAzure: isAzure, reader: &reader)
            var models: [ModelPattern] = []
            if let modelsNode = fields["models"] {
                guard let list = modelsNode.sequence else {
                    throw reader.error(modelsNode, "\(path).models", "must be a list", fix: #"write for example ["gpt-*"]"#)
                }
                models = try list.map { ModelPattern(try reader.string($0, field: "\(path).models")) }
            } else if let azure {
                // An Azure resource serves the models it has deployments for.
                models = azure.deployments.keys.sorted().map(ModelPattern.init)
            } else {
                models = [ModelPattern("*")]
            }
            let caFile = try caFile(fields, path: path, url: url, reader: &reader)
            let anthropicModels = try bedrockAnthropicModels(fields, path: path, reader: &reader)
            let trimmedURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
            var provider = ProviderConfiguration(
                name: name, kind: kind, baseURL: trimmedURL, apiKey: apiKey, models: models, caFile: caFile,
                streamUsage: streamUsage, azure: azure, entra: entra, aws: bedrock?.aws)
            provider.bedrockAnthropicModels = anthropicModels
            (provider.adminKey, provider.keyID) = try providerAdmin(fields, path: path, kindText: kindText, reader: &reader)
            result.append(provider)
        }
        return result
    }

    private static func environments(_ node: Node, reader: inout NodeReader) throws -> [String: Budget] {
        var result: [String: Budget] = [:]
        for (name, value) in try reader.mapping(node, field: "environments", allowed: nil) {
            let path = "environments.\(name)"
            guard TokenFormat.isValidEnvironment(name) else {
                throw reader.error(value, path, "'\(name)' is not an environment name", fix: "use lowercase letters, digits and '-'")
            }
            let fields = try reader.mapping(value, field: path, allowed: ["budget", "period"])
            guard let budgetNode = fields["budget"] else {
                throw reader.error(value, "\(path).budget", "is missing", fix: "write { budget: 500, period: month }")
            }
            guard let amount = budgetNode.float ?? budgetNode.int.map(Double.init), amount >= 0, amount <= 1e9 else {
                throw reader.error(budgetNode, "\(path).budget", "must be a number of US dollars from 0 to 1e9", fix: "write e.g. 500")
            }
            var period = BudgetPeriod.month
            if let periodNode = fields["period"] {
                let text = try reader.string(periodNode, field: "\(path).period")
                guard let parsed = BudgetPeriod(rawValue: text) else {
                    throw reader.error(periodNode, "\(path).period", "unknown period '\(text)'", fix: "write day, week, month or total")
                }
                period = parsed
            }
            result[name] = Budget(limit: Money(usd: amount), period: period)
        }
        return result
    }
}

/// Typed reads from a YAML node tree that fail with the file, line and field.
struct NodeReader {
    let file: String?

    func error(_ node: Node, _ field: String, _ problem: String, fix: String) -> ConfigurationError {
        ConfigurationError(file: file, line: node.mark.map { $0.line }, field: field, problem: problem, fix: fix)
    }

    /// Runs `body`, placing a ``ConfigurationError`` it throws at `node`'s file and line.
    func locating(_ node: Node, _ body: () throws -> Void) throws {
        do {
            try body()
        } catch var error as ConfigurationError {
            error.file = error.file ?? file
            error.line = error.line ?? node.mark.map { $0.line }
            throw error
        }
    }

    /// A mapping's fields by name; with `allowed`, an unknown field is an error.
    func mapping(_ node: Node, field: String, allowed: Set<String>?) throws -> [(String, Node)] {
        guard let mapping = node.mapping else {
            throw error(node, field, "must be a mapping of fields", fix: "write 'name: value' lines")
        }
        var result: [(String, Node)] = []
        for (keyNode, value) in mapping {
            guard let key = keyNode.string else { throw error(keyNode, field, "has a field name that is not text", fix: "quote it") }
            if let allowed, !allowed.contains(key) {
                let path = field == "(top level)" ? key : "\(field).\(key)"
                throw error(keyNode, path, "unknown field", fix: "remove it or use one of: \(allowed.sorted().joined(separator: ", "))")
            }
            result.append((key, value))
        }
        return result
    }

    func string(_ node: Node, field: String) throws -> String {
        guard case .scalar(let scalar) = node else { throw error(node, field, "must be text", fix: "write a single value") }
        return scalar.string
    }

    /// A duration such as `30s`, `5m`, `24h` or `90d`, of at least a second, in seconds.
    func duration(_ node: Node, field: String, example: String) throws -> TimeInterval {
        let text = try string(node, field: field)
        guard let seconds = TimeWindow.seconds(text), seconds >= 1 else {
            throw error(node, field, "'\(text)' is not a duration", fix: "write e.g. \(example)")
        }
        return seconds
    }

    func bool(_ node: Node, field: String) throws -> Bool {
        guard let value = node.bool else { throw error(node, field, "must be true or false", fix: "write true or false") }
        return value
    }

    func positiveInt(_ node: Node, field: String) throws -> Int {
        guard let value = node.int, value > 0 else { throw error(node, field, "must be a positive whole number", fix: "write e.g. 30") }
        return value
    }

    func nonNegativeInt(_ node: Node, field: String) throws -> Int {
        guard let value = node.int, value >= 0 else {
            throw error(node, field, "must be a whole number, 0 or more", fix: "write e.g. 3600")
        }
        return value
    }

    func secretReference(_ node: Node, field: String) throws -> SecretReference {
        let text = try string(node, field: field)
        do {
            return try SecretReference(parsing: text)
        } catch {
            throw self.error(node, field, "is not a secret reference", fix: error.description)
        }
    }
}

extension [(String, Node)] {
    subscript(name: String) -> Node? { first { $0.0 == name }?.1 }
}
