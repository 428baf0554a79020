import Foundation
import PerimeterCore
import PerimeterPostgres
import PerimeterStorage
import Testing

/// The board instances exchange each key's demand through, in memory and (with `POSTGRES_URL`) on
/// PostgreSQL: each instance sees the sum of the others' fresh reports, never its own.
@Suite struct RateDemandBoardTests {
    func makeBoard(_ backend: PoolBackend) async throws -> (board: any RateDemandBoard, close: @Sendable () async -> Void) {
        switch backend {
        case .memory: return (MemoryRateDemandBoard(), {})
        case .postgres:
            let store = try await PostgresTestServer.freshStore()
            return (store, { await store.close() })
        }
    }

    @Test(arguments: PoolBackend.available)
    func eachInstanceSeesTheOthersFreshReports(backend: PoolBackend) async throws {
        let (board, close) = try await makeBoard(backend)
        let now = Date(timeIntervalSince1970: 1_790_000_000)
        let fresh = now.addingTimeInterval(-5)
        #expect(try await board.exchange(["k1": RateDemand(requests: 4, tokens: 100)], instance: "a", at: now, freshSince: fresh).isEmpty)
        _ = try await board.exchange(
            ["k1": RateDemand(requests: 6, tokens: 10), "k2": RateDemand(requests: 1)], instance: "b", at: now, freshSince: fresh)
        let seenByC = try await board.exchange([:], instance: "c", at: now, freshSince: fresh)
        #expect(seenByC == ["k1": RateDemand(requests: 10, tokens: 110), "k2": RateDemand(requests: 1)])
        // A new report replaces the last one whole: a key with no demand drops out.
        _ = try await board.exchange(["k1": RateDemand(requests: 1)], instance: "b", at: now, freshSince: fresh)
        #expect(try await board.exchange([:], instance: "c", at: now, freshSince: fresh) == ["k1": RateDemand(requests: 5, tokens: 100)])
        // A report older than the freshness bound (its instance stopped reporting) no longer counts.
        let later = now.addingTimeInterval(10)
        _ = try await board.exchange(["k1": RateDemand(requests: 2)], instance: "b", at: later, freshSince: later.addingTimeInterval(-5))
        #expect(
            try await board.exchange([:], instance: "c", at: later, freshSince: later.addingTimeInterval(-5)) == [
                "k1": RateDemand(requests: 2)
            ]
        )
        await close()
    }
}

extension RateDemandBoardTests {
    /// The refusals burst alerts count, on the backends instances share: denials by key, unknown keys
    /// by address, only subjects at the threshold, only within the window.
    @Test(arguments: PoolBackend.available)
    func refusalsAreCountedBySubjectOverTheThreshold(backend: PoolBackend) async throws {
        let (log, close): (any CallLog & RefusalLog, @Sendable () async -> Void) =
            switch backend {
            case .memory: (MemoryStore(), {})
            case .postgres:
                try await { () async throws -> (any CallLog & RefusalLog, @Sendable () async -> Void) in
                    let store = try await PostgresTestServer.freshStore()
                    return (store, { await store.close() })
                }()
            }
        let now = Date(timeIntervalSince1970: 1_790_000_000)
        var records: [CallRecord] = []
        for index in 0..<12 {
            var denied = CallRecord(
                id: "d\(index)", time: now.addingTimeInterval(-Double(index)), keyID: index < 9 ? "k1" : "k2", env: "prod",
                operation: .chat, status: 429, outcome: .denied, usage: Usage(), cost: nil)
            denied.errorCode = "rate_limited"
            var unknown = CallRecord(
                id: "u\(index)", time: now.addingTimeInterval(-Double(index)), keyID: nil, env: nil, operation: .chat, status: 401,
                outcome: .denied, usage: Usage(), cost: nil)
            unknown.errorCode = GatewayError.invalidKey.code
            unknown.clientIP = index < 5 ? "203.0.113.9" : "198.51.100.\(index)"
            records += [denied, unknown]
        }
        // Served calls and a denial outside the window count for nothing.
        records.append(
            CallRecord(
                id: "ok", time: now, keyID: "k1", env: "prod", operation: .chat, status: 200, outcome: .ok, usage: Usage(), cost: nil))
        var old = CallRecord(
            id: "old", time: now.addingTimeInterval(-600), keyID: "k1", env: "prod", operation: .chat, status: 429, outcome: .denied,
            usage: Usage(), cost: nil)
        old.errorCode = "rate_limited"
        records.append(old)
        try await log.append(records)
        let counts = try await log.refusals(since: now.addingTimeInterval(-60), until: now.addingTimeInterval(1), atLeast: 3)
        #expect(counts.deniedByKey == ["k1": 9, "k2": 3])
        #expect(counts.unknownKeyByAddress == ["203.0.113.9": 5])
        await close()
    }
}
