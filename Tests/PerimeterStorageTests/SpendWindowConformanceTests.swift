import Foundation
import PerimeterCore
import PerimeterStorage
import Testing

/// Spend over any window equals the sum of the logged calls in it, on every backend, whatever path the
/// calls took into the log: PostgreSQL answers whole hours from a rollup its triggers keep, so this
/// checks the rollup against the log it summarises, through placeholders replaced by final records,
/// interrupted calls closed and replaced, retried batches, and windows cut anywhere in an hour.
@Suite struct SpendWindowConformanceTests {
    static let t0 = Date(timeIntervalSince1970: 1_764_000_000)  // 16:00 UTC: an hour boundary
    static let span: TimeInterval = 30 * 3600

    /// Call `i` of a fixed, varied set: at a second scattered over 30 hours (some exactly on an hour),
    /// across 5 keys in 3 environments, 3 models, owners or none, and some unpriced.
    static func call(_ i: Int, outcome: Outcome = .ok, cost scale: Int64 = 1) -> CallRecord {
        let offset = i % 11 == 0 ? TimeInterval((i % 30) * 3600) : TimeInterval((i * 7919) % Int(span))
        let key = i % 5
        var record = CallRecord(
            id: "req_\(i)", time: t0.addingTimeInterval(offset), keyID: key == 4 ? nil : "key_\(key)", keyName: "k\(key)",
            env: ["prod", "dev", "ci"][key % 3], owner: key % 2 == 0 ? "alice" : nil, clientIP: "10.0.0.\(key)",
            provider: ["openai", "azure", "openrouter"][i % 7 % 3], model: ["gpt-4o", "gpt-4o-mini", "o3"][i % 3], operation: .chat,
            stream: i % 2 == 0,
            status: 200, outcome: outcome, usage: Usage(inputTokens: 10 + i % 17, cachedInputTokens: i % 4, outputTokens: i % 23),
            cost: i % 13 == 0 ? nil : Money(nanos: (1000 + Int64(i % 97)) * scale), latencyMS: 10)
        record.usageSource = outcome == .inFlight ? .reserved : .provider
        return record
    }

    @Test(arguments: Backend.available)
    func spendOverAnyWindowIsTheSumOfItsCalls(backend: Backend) async throws {
        let store = try await backend.makeStore()
        // Finished calls in batches, one batch retried.
        let finished = (0..<240).map { Self.call($0) }
        for start in stride(from: 0, to: finished.count, by: 60) {
            try await store.append(Array(finished[start..<start + 60]))
        }
        try await store.append(Array(finished[60..<120]))
        // Budgeted calls: placeholders, then most replaced by their final records ...
        try await store.append((240..<300).map { Self.call($0, outcome: .inFlight, cost: 5) })
        try await store.append((240..<280).map { Self.call($0, outcome: $0 % 2 == 0 ? .ok : .clientCancelled) })
        // ... the rest closed as interrupted (on PostgreSQL only those of instances not alive), and
        // one placeholder and its final record in the same batch.
        _ = try await store.closeInFlight()
        try await store.append([Self.call(300, outcome: .inFlight, cost: 5), Self.call(300)])
        try await store.append((280..<290).map { Self.call($0) })

        let logged = try await store.calls(matching: CallQuery(limit: 10_000))
        #expect(logged.count == 301)
        let reference = MemoryStore()
        try await reference.append(logged)

        let hour: TimeInterval = 3600
        let edges: [Date?] =
            [nil, Self.t0, Self.t0.addingTimeInterval(-hour), Self.t0.addingTimeInterval(Self.span + hour)]
            + [0.5, 1, 7.25, 12, 12.999, 13, 29.9].map { Self.t0.addingTimeInterval($0 * hour) }
        var windows = 0
        for since in edges {
            for until in edges where since == nil || until == nil || since! <= until! {
                for grouping in SpendGrouping.allCases {
                    let query = SpendQuery(groupBy: grouping, since: since, until: until)
                    let expected = try await reference.spend(query)
                    #expect(
                        try await store.spend(query) == expected,
                        "\(grouping) \(String(describing: since)) ..< \(String(describing: until))")
                    windows += 1
                }
            }
        }
        #expect(windows > 300)
        // The whole log, checked by hand once: the reference is not trusted alone.
        let total = try await store.spend(SpendQuery(groupBy: .env))
        #expect(total.reduce(0) { $0 + $1.calls } == logged.filter { $0.outcome != .inFlight }.count)
        #expect(total.reduce(Money.zero) { $0 + $1.cost } == logged.compactMap { $0.outcome == .inFlight ? nil : $0.cost }.reduce(.zero, +))
    }
}
