import ArgumentParser
import Foundation
import PerimeterAdminModels
import PerimeterCore

/// The limit flags shared by `keys create` and `keys update`, turned into the admin API's `limits` JSON.
struct LimitOptions: ParsableArguments {
    @Option(help: "Spend budget in US dollars, e.g. 25.") var budget: Double?
    @Option(help: "Budget period: day, week, month or total (default month). Periods are calendar-aligned in UTC.")
    var period: String?
    @Option(help: "Requests per minute.") var rpm: Int?
    @Option(help: "Tokens per minute, counted from metered usage.") var tpm: Int?
    @Option(name: .customLong("allow-ip"), help: "Allowed client address or CIDR, IPv4 or IPv6 (repeatable).")
    var allowIPs: [String] = []
    @Option(name: .customLong("models"), help: "Allowed model pattern with * wildcards (repeatable).") var models: [String] = []
    @Option(help: "Allowed operations, comma-separated: chat,responses,embeddings,messages,models,count_tokens,generate,converse,invoke.")
    var operations: String?
    @Option(help: "Tools: allow, deny, or a comma-separated list of allowed function names.") var tools: String?
    @Option(help: "Providers the key's calls may go to, comma-separated names from the configuration, e.g. azure,bedrock.")
    var providers: String?
    @Option(help: "Expire after a duration from now: 90d, 12h, 30m.") var expiresIn: String?
    @Option(help: "Expire at an RFC 3339 time, e.g. 2026-12-31T00:00:00Z.") var expiresAt: String?

    /// The `limits` members these flags set, validated so nothing half-applies.
    func members(now: Date = Date()) throws -> [String: Any] {
        var limits: [String: Any] = [:]
        if let period, BudgetPeriod(rawValue: period) == nil {
            throw CLIError("--period must be day, week, month or total, not '\(period)'")
        }
        if let budget {
            guard KeyPolicyValidation.budgetUSD.contains(budget) else {
                throw CLIError("--budget must be from 0 to 1000000000 US dollars")
            }
            limits["budget"] = ["usd": budget, "period": period ?? "month"]
        } else if period != nil {
            throw CLIError("--period needs --budget")
        }
        if let rpm {
            guard KeyPolicyValidation.requestsPerMinute.contains(rpm) else { throw CLIError("--rpm must be from 1 to 10000000") }
            limits["rpm"] = rpm
        }
        if let tpm {
            guard KeyPolicyValidation.tokensPerMinute.contains(tpm) else { throw CLIError("--tpm must be from 1 to 10000000000") }
            limits["tpm"] = tpm
        }
        if !allowIPs.isEmpty {
            for text in allowIPs where CIDR(text) == nil {
                throw CLIError("--allow-ip '\(text)' is not an IP address or CIDR such as 10.0.0.0/8 or 2001:db8::/32")
            }
            limits["allowed_ips"] = allowIPs
        }
        if !models.isEmpty { limits["models"] = models }
        if let providers {
            let names = providers.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            for name in names where !KeyPolicyValidation.isValidProviderName(name) {
                throw CLIError("--providers: '\(name)' is not a provider name (letters, digits, '-' and '_')")
            }
            guard !names.isEmpty else { throw CLIError("--providers needs at least one provider name") }
            limits["providers"] = names
        }
        if let operations {
            let names = operations.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            for name in names where CallOperation(rawValue: name) == nil {
                throw CLIError(
                    "--operations: '\(name)' is not an operation; use \(CallOperation.allCases.map(\.rawValue).joined(separator: ","))")
            }
            guard !names.isEmpty else { throw CLIError("--operations needs at least one operation") }
            limits["operations"] = names
        }
        if let tools {
            switch tools {
            case "allow", "deny": limits["tools"] = tools
            default:
                let names = tools.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                guard !names.isEmpty else { throw CLIError("--tools must be allow, deny, or a list of tool names") }
                limits["tools"] = names
            }
        }
        if expiresIn != nil, expiresAt != nil { throw CLIError("give --expires-in or --expires-at, not both") }
        if let expiresIn {
            guard let seconds = TimeWindow.seconds(expiresIn), seconds > 0 else {
                throw CLIError("--expires-in must be a duration such as 90d, 12h or 30m, not '\(expiresIn)'")
            }
            limits["expires_at"] = Timestamp.format(now.addingTimeInterval(seconds))
        }
        if let expiresAt {
            guard Timestamp.parse(expiresAt) != nil else {
                throw CLIError("--expires-at must be an RFC 3339 time such as 2026-12-31T00:00:00Z")
            }
            limits["expires_at"] = expiresAt
        }
        return limits
    }
}

/// Flags of `keys update` that remove a limit.
struct ClearOptions: ParsableArguments {
    @Flag(name: .customLong("no-budget"), help: "Remove the budget.") var noBudget = false
    @Flag(name: .customLong("no-rpm"), help: "Remove the requests-per-minute limit.") var noRPM = false
    @Flag(name: .customLong("no-tpm"), help: "Remove the tokens-per-minute limit.") var noTPM = false
    @Flag(name: .customLong("any-ip"), help: "Remove the IP allowlist.") var anyIP = false
    @Flag(name: .customLong("any-model"), help: "Remove the model allowlist.") var anyModel = false
    @Flag(name: .customLong("any-operation"), help: "Allow every operation.") var anyOperation = false
    @Flag(name: .customLong("any-provider"), help: "Remove the provider restriction.") var anyProvider = false
    @Flag(name: .customLong("no-expiry"), help: "Remove the expiry.") var noExpiry = false

    func members() -> [String: Any] {
        var cleared: [String: Any] = [:]
        if noBudget { cleared["budget"] = NSNull() }
        if noRPM { cleared["rpm"] = NSNull() }
        if noTPM { cleared["tpm"] = NSNull() }
        if anyIP { cleared["allowed_ips"] = NSNull() }
        if anyModel { cleared["models"] = NSNull() }
        if anyOperation { cleared["operations"] = NSNull() }
        if anyProvider { cleared["providers"] = NSNull() }
        if noExpiry { cleared["expires_at"] = NSNull() }
        return cleared
    }
}
