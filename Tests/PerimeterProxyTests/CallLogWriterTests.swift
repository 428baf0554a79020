import Foundation
import Logging
import PerimeterCore
import PerimeterStorage
import ServiceLifecycle
import Synchronization
import Testing

@testable import PerimeterProxy

/// A call log that fails its next `failures` appends, like a database that is briefly locked or down.
final class FlakyCallLog: CallLog, Sendable {
    let store = MemoryStore()
    let failures: Mutex<Int>
    let attempts = Mutex(0)

    init(failures: Int) {
        self.failures = Mutex(failures)
    }

    func append(_ records: [CallRecord]) async throws {
        attempts.withLock { $0 += 1 }
        let fails = failures.withLock { remaining -> Bool in
            guard remaining > 0 else { return false }
            remaining -= 1
            return true
        }
        if fails { throw CocoaError(.fileWriteUnknown) }
        try await store.append(records)
    }

    func calls(matching query: CallQuery) async throws -> [CallRecord] { try await store.calls(matching: query) }
    func spend(_ query: SpendQuery) async throws -> [SpendRow] { try await store.spend(query) }
    func spendSeries(_ query: SpendSeriesQuery) async throws -> [SpendPoint] { try await store.spendSeries(query) }
    func callBreakdown(_ query: BreakdownQuery) async throws -> [BreakdownRow] { try await store.callBreakdown(query) }
    func lastClientAddresses() async throws -> [String: String] { try await store.lastClientAddresses() }
    func keySources() async throws -> [(keyID: String, address: String, firstSeen: Date)] { try await store.keySources() }
    func closeInFlight() async throws -> Int { try await store.closeInFlight() }
}

@Suite struct CallLogWriterTests {
    static let t0 = Date(timeIntervalSince1970: 1_790_000_000)

    func record(_ id: String, key: VirtualKey, at offset: TimeInterval) -> CallRecord {
        CallRecord(
            id: id, time: Self.t0.addingTimeInterval(offset), keyID: key.id, env: key.env, operation: .chat, status: 200,
            outcome: .ok, usage: Usage(inputTokens: 3, outputTokens: 4), cost: Money(nanos: 700))
    }

    /// A writer whose interval never ticks (only group commit and shutdown write), in a service group
    /// the test runs, over a log that fails its first `failures` appends.
    func runningWriter(failures: Int) -> (VirtualKey, FlakyCallLog, CallLogWriter, ServiceGroup) {
        let key = VirtualKey.issue(name: "svc", env: "dev", owner: nil, now: Self.t0).0
        let log = FlakyCallLog(failures: failures)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let writer = CallLogWriter(log: log, keys: MemoryStore(), cache: KeyCache(keys: [key]), interval: .seconds(3600), logger: logger)
        let group = ServiceGroup(services: [writer], gracefulShutdownSignals: [], cancellationSignals: [], logger: logger)
        return (key, log, writer, group)
    }

    @Test func aFullBacklogRefusesMoreAndLosesNothingItTook() async throws {
        let key = VirtualKey.issue(name: "svc", env: "dev", owner: nil, now: Self.t0).0
        let log = FlakyCallLog(failures: 3)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let writer = CallLogWriter(
            log: log, keys: MemoryStore(), cache: KeyCache(keys: [key]), interval: .seconds(3600), maximumBacklog: 4, logger: logger)
        for index in 0..<3 { writer.record(record("r\(index)", key: key, at: Double(index))) }
        await writer.flush()  // fails: the database is down
        #expect(writer.backlogCount == 3 && !writer.isBacklogFull)
        writer.record(record("r3", key: key, at: 3))
        #expect(writer.isBacklogFull)
        // Past the bound a record is dropped and counted, not queued.
        writer.record(record("r4", key: key, at: 4))
        #expect(writer.backlogCount == 4 && writer.droppedCount == 1)
        await writer.flush()
        await writer.flush()  // both fail
        #expect(writer.isBacklogFull)
        await writer.flush()  // the database is back
        #expect(writer.backlogCount == 0 && !writer.isBacklogFull)
        #expect(try await log.calls(matching: CallQuery()).map(\.id).sorted() == ["r0", "r1", "r2", "r3"])
    }

    @Test func aBatchThatFailsIsKeptAndWrittenOnceOnTheNextFlushInOrder() async throws {
        let key = VirtualKey.issue(name: "svc", env: "dev", owner: nil, now: Self.t0).0
        let keys = MemoryStore()
        try await keys.insert(key)
        let cache = KeyCache(keys: [key])
        let log = FlakyCallLog(failures: 2)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let writer = CallLogWriter(log: log, keys: keys, cache: cache, interval: .seconds(3600), logger: logger)

        writer.record(record("c1", key: key, at: 1))
        writer.record(record("c2", key: key, at: 2))
        await writer.flush()
        #expect(try await log.calls(matching: CallQuery()).isEmpty)
        // Calls that finish while the database is down queue behind the failed batch.
        writer.record(record("c3", key: key, at: 3))
        await writer.flush()
        #expect(try await log.calls(matching: CallQuery()).isEmpty)
        #expect(cache.key(id: key.id)?.lastUsedAt == nil)

        await writer.flush()
        let written = try await log.calls(matching: CallQuery())
        #expect(Set(written.map(\.id)) == ["c1", "c2", "c3"])
        #expect(written.count == 3)
        #expect(log.attempts.withLock { $0 } == 3)
        // The keys' last use moves to the newest call of the batch, in the cache and the store.
        #expect(cache.key(id: key.id)?.lastUsedAt == Self.t0.addingTimeInterval(3))
        #expect(try await keys.key(id: key.id)?.lastUsedAt == Self.t0.addingTimeInterval(3))

        // Nothing queued: a flush writes nothing.
        await writer.flush()
        #expect(log.attempts.withLock { $0 } == 3)
    }

    /// Group commit: an answer's record is in the log when `recordDurably` returns, without waiting for
    /// the flush interval; many answers at once share commits.
    @Test func aDurableRecordIsCommittedBeforeItReturnsAndAnswersShareCommits() async throws {
        let (key, log, writer, group) = runningWriter(failures: 0)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            await writer.recordDurably(record("d1", key: key, at: 1))
            #expect(try await log.calls(matching: CallQuery()).map(\.id) == ["d1"])
            await withTaskGroup(of: Void.self) { answers in
                for index in 0..<200 {
                    answers.addTask { await writer.recordDurably(self.record("b\(index)", key: key, at: 2)) }
                }
            }
            #expect(try await log.calls(matching: CallQuery(limit: 1000)).count == 201)
            // 200 answers at once took far fewer than 200 commits.
            #expect(log.attempts.withLock { $0 } < 150)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        // After the writer stopped, a late record is written at once rather than waiting forever.
        await writer.recordDurably(record("late", key: key, at: 3))
        #expect(try await log.calls(matching: CallQuery(limit: 1000)).contains { $0.id == "late" })
    }

    @Test func aDatabaseOutageLetsWaitingAnswersGoAndKeepsTheirRecords() async throws {
        let (key, log, writer, group) = runningWriter(failures: 1)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            await writer.recordDurably(record("o1", key: key, at: 1))
            #expect(try await log.calls(matching: CallQuery()).isEmpty)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        // The shutdown flush retried the kept batch.
        #expect(try await log.calls(matching: CallQuery()).map(\.id) == ["o1"])
    }
}
