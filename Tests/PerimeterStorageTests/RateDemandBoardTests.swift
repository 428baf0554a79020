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
