import Foundation
import Hummingbird
import Logging
import PerimeterCore
import PerimeterProxy
import PerimeterStorage

/// Records admin actions in the append-only audit log, with who acted (the admin token's name), from
/// which address, and what changed. Details never hold a secret value. Each action is also logged.
package struct AdminAudit: Sendable {
    let log: any AuditLog
    let clientAddress: ClientAddress

    package init(log: any AuditLog, clientAddress: ClientAddress) {
        self.log = log
        self.clientAddress = clientAddress
    }

    /// Records one action taken through the admin API.
    package func record(
        _ action: String, target: String?, details: [String: AuditValue] = [:], request: Request, context: GatewayContext
    ) async throws {
        let address = clientAddress.resolve(socket: context.clientIP, headers: request.headers)
        var details = details
        if context.viaConsole { details["via"] = .text("console") }
        try await record(
            action, target: target, details: details, actor: context.admin?.name ?? "unknown", actorID: context.admin?.id,
            address: address, logger: context.logger)
    }

    /// Records one action taken by the gateway itself (a scheduled rotation).
    package func record(
        _ action: String, target: String?, details: [String: AuditValue] = [:], actor: String, actorID: String?,
        address: String?, logger: Logger
    ) async throws {
        let text = AuditValue.object(details)
        try await log.appendAudit(
            AuditEntry(
                time: Date(), actor: actor, actorID: actorID, address: address, action: action, target: target, details: text))
        logger.notice(
            "admin: \(action)",
            metadata: [
                "perimeter.admin": "\(actor)", "perimeter.target": "\(target ?? "-")", "perimeter.details": "\(text)",
            ])
    }
}

/// A value in an audit entry's details: text, a number, a flag, or a JSON document (limits before and
/// after) embedded as structure.
package enum AuditValue: Sendable {
    case text(String)
    case number(Int64)
    case flag(Bool)
    case json(String)

    /// The details as one JSON object, keys sorted.
    static func object(_ details: [String: AuditValue]) -> String {
        func quoted(_ text: String) -> String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .withoutEscapingSlashes
            return String(decoding: (try? encoder.encode(text)) ?? Data("\"\"".utf8), as: UTF8.self)
        }
        let members = details.sorted { $0.key < $1.key }.map { key, value in
            let rendered =
                switch value {
                case .text(let text): quoted(text)
                case .number(let number): String(number)
                case .flag(let flag): flag ? "true" : "false"
                case .json(let json): json
                }
            return quoted(key) + ":" + rendered
        }
        return "{" + members.joined(separator: ",") + "}"
    }
}
