import Foundation
import Logging
import PerimeterCore
import PerimeterStorage
import ServiceLifecycle
import Synchronization

/// Takes finished call records off the request path and writes them in batches: one transaction per
/// batch, however many calls finished meanwhile. On graceful shutdown it writes what is left.
///
/// A completed answer's record is made durable before the answer's last byte leaves, by group commit:
/// ``recordDurably(_:)`` queues the record, wakes the writer and waits for the commit that holds it.
/// Records that arrive while a commit is under way go together in the next one, so under load a
/// batch holds many calls and the wait is about one commit. Other records (refusals, errors) are
/// written at the next flush interval.
///
/// A batch that fails to write is kept and tried again on the next tick; appends are idempotent by
/// call id, so a retried batch never duplicates rows. The answers waiting on a failed batch are let go
/// rather than held while the database is down. The records kept are bounded by `maximumBacklog`:
/// once that many wait, ``isBacklogFull`` tells the proxy to refuse new calls (503
/// `call_log_unavailable`) rather than serve calls it cannot record, and the refusals' own records
/// are dropped and counted.
package final class CallLogWriter: Service, Sendable {
    private struct Queue {
        var records: [CallRecord] = []
        var waiters: [CheckedContinuation<Void, Never>] = []
        /// After the final flush: a record then is written at once, as nothing else will write it.
        var isClosed = false
    }

    private let log: any CallLog
    private let keys: any KeyStore
    private let cache: KeyCache
    private let interval: Duration
    private let logger: Logger
    private let queue = Mutex(Queue())
    /// Set once the last records are written (or could not be): the store closes after it.
    package let finished = Finished()
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    package let maximumBacklog: Int
    private let backlog = Atomic<Int>(0)
    private let dropped = Atomic<Int>(0)
    /// Keys' last use not yet written to the store, and when it last was: written at most once a
    /// second, so the next batch does not wait behind it.
    private let pendingUse = Mutex<(uses: [String: Date], written: ContinuousClock.Instant?)>(([:], nil))
    /// Live tails: every final record queued (not `in_flight` placeholders), as it is queued.
    package let feed: CallFeed

    package init(
        log: any CallLog, keys: any KeyStore, cache: KeyCache, interval: Duration, maximumBacklog: Int = 200_000,
        feed: CallFeed = CallFeed(), logger: Logger
    ) {
        self.log = log
        self.feed = feed
        self.keys = keys
        self.cache = cache
        self.interval = interval
        self.maximumBacklog = maximumBacklog
        self.logger = logger
        (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Records waiting to be written.
    package var backlogCount: Int { backlog.load(ordering: .relaxed) }
    /// The backlog is at its bound: new calls are refused until the database takes it.
    package var isBacklogFull: Bool { backlogCount >= maximumBacklog }
    /// Records dropped because the backlog was full (refusals of calls never served).
    package var droppedCount: Int { dropped.load(ordering: .relaxed) }

    /// Queues a record; returns at once. Dropped (and counted) when the backlog is full: only the
    /// refusal of a call that was not served comes here then.
    package func record(_ record: CallRecord) {
        let count = queue.withLock { queue -> Int? in
            guard queue.records.count < maximumBacklog else { return nil }
            queue.records.append(record)
            return queue.records.count
        }
        if let count {
            backlog.store(count, ordering: .relaxed)
            if record.outcome != .inFlight { feed.publish(record) }
        } else {
            dropped.add(1, ordering: .relaxed)
        }
    }

    /// Queues a record and returns once a commit holds it.
    package func recordDurably(_ record: CallRecord) async {
        if record.outcome != .inFlight { feed.publish(record) }
        let isClosed = queue.withLock { $0.isClosed }
        if isClosed {
            try? await log.append([record])
            return
        }
        await withCheckedContinuation { continuation in
            let queued = queue.withLock { queue -> Bool in
                guard !queue.isClosed else { return false }
                queue.records.append(record)
                queue.waiters.append(continuation)
                backlog.store(queue.records.count, ordering: .relaxed)
                return true
            }
            if queued { wake.yield() } else { continuation.resume() }
        }
    }

    package func run() async throws {
        let interval = interval
        let wake = wake
        await withTaskGroup(of: Void.self) { group in
            // The interval's tick writes what no answer is waiting for.
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    wake.yield()
                }
            }
            // Shutdown ends the wake-ups; a write in progress is never cancelled.
            await withGracefulShutdownHandler {
                for await _ in self.wakeups { await self.flush() }
            } onGracefulShutdown: {
                wake.finish()
            }
            group.cancelAll()
        }
        // The HTTP server stopped before this service (services stop in reverse order), so no call
        // can still be queued after this final flush.
        queue.withLock { $0.isClosed = true }
        // Written even when a slow shutdown was escalated to cancellation (a task of its own is not
        // cancelled). Cancelled, calls cut at the same moment still record: a few more passes take them.
        let wasCancelled = Task.isCancelled
        await Task {
            await self.flush()
            if wasCancelled {
                for _ in 0..<5 {
                    try? await Task.sleep(for: .milliseconds(200))
                    await self.flush()
                }
            }
            await self.writeUse(force: true)
        }.value
        finished.set()
    }

    /// Writes everything queued so far, and lets go the answers waiting for it.
    package func flush() async {
        let (batch, waiters) = queue.withLock { queue in
            defer {
                queue.records.removeAll(keepingCapacity: true)
                queue.waiters.removeAll(keepingCapacity: true)
            }
            return (queue.records, queue.waiters)
        }
        guard !batch.isEmpty else { return }
        do {
            try await log.append(batch)
            backlog.store(queue.withLock { $0.records.count }, ordering: .relaxed)
            for waiter in waiters { waiter.resume() }
        } catch {
            let wasFull = isBacklogFull
            let count = queue.withLock { queue in
                queue.records.insert(contentsOf: batch, at: 0)
                return queue.records.count
            }
            backlog.store(count, ordering: .relaxed)
            logger.error(
                "call log write failed; the records are kept in memory and written when the database answers",
                metadata: [
                    "error": "\(String(reflecting: error))", "perimeter.calls": "\(count)",
                    "perimeter.backlog.limit": "\(maximumBacklog)",
                ])
            if isBacklogFull, !wasFull {
                logger.critical(
                    "call log backlog full: new calls are refused with 503 call_log_unavailable until the database takes the backlog",
                    metadata: ["perimeter.calls": "\(count)"])
            }
            for waiter in waiters { waiter.resume() }
            return
        }
        var lastUsed: [String: Date] = [:]
        for record in batch {
            guard let keyID = record.keyID else { continue }
            lastUsed[keyID] = max(lastUsed[keyID] ?? record.time, record.time)
        }
        cache.recordUse(lastUsed)
        pendingUse.withLock { $0.uses.merge(lastUsed, uniquingKeysWith: max) }
        await writeUse(force: queue.withLock { $0.isClosed })
    }

    /// Writes the keys' last use to the store if a second has passed since the last write, or if `force`.
    private func writeUse(force: Bool) async {
        let now = ContinuousClock.now
        let due = pendingUse.withLock { pending -> [String: Date]? in
            guard force || pending.written.map({ now - $0 >= .seconds(1) }) ?? true, !pending.uses.isEmpty else { return nil }
            defer { pending = ([:], now) }
            return pending.uses
        }
        guard let due else { return }
        do {
            try await keys.recordUse(due)
        } catch {
            pendingUse.withLock { $0.uses.merge(due, uniquingKeysWith: max) }
            logger.warning("last-used update failed", metadata: ["error": "\(error)"])
        }
    }
}
