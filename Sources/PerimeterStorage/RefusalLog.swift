import Foundation
import PerimeterCore

/// Refusals in a call log several instances write: what the denial-burst and unknown-key-burst
/// alerts count when instances share the log, so a burst spread over N instances is seen whole.
public protocol RefusalLog: Sendable {
    /// Calls in `[since, until)` denied, by key, and refused for an unknown key, by client address:
    /// the subjects with at least `minimum` of them, the busiest ``RefusalCounts/limit`` at most (an
    /// attacker spreading refusals over many addresses makes no long answer).
    func refusals(since: Date, until: Date, atLeast minimum: Int) async throws -> RefusalCounts
}

public struct RefusalCounts: Sendable, Hashable {
    /// The most subjects one answer holds.
    public static let limit = 1000

    /// Denied calls of known keys, by key id.
    public var deniedByKey: [String: Int]
    /// Calls with a key no one issued (`invalid_key`), by client address.
    public var unknownKeyByAddress: [String: Int]

    public init(deniedByKey: [String: Int] = [:], unknownKeyByAddress: [String: Int] = [:]) {
        self.deniedByKey = deniedByKey
        self.unknownKeyByAddress = unknownKeyByAddress
    }

    /// Counts `records` as a backend would.
    public init(_ records: some Sequence<CallRecord>) {
        self.init()
        for record in records where record.outcome == .denied {
            if let keyID = record.keyID {
                deniedByKey[keyID, default: 0] += 1
            } else if record.errorCode == GatewayError.invalidKey.code, let address = record.clientIP {
                unknownKeyByAddress[address, default: 0] += 1
            }
        }
    }
}

extension MemoryStore: RefusalLog {
    public func refusals(since: Date, until: Date, atLeast minimum: Int) async throws -> RefusalCounts {
        var counts = RefusalCounts(try await calls(matching: CallQuery(since: since, limit: Int.max)).filter { $0.time < until })
        counts.deniedByKey = counts.deniedByKey.filter { $0.value >= minimum }
        counts.unknownKeyByAddress = counts.unknownKeyByAddress.filter { $0.value >= minimum }
        return counts
    }
}
