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
/// rather than held while the database is down.
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
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    package init(log: any CallLog, keys: any KeyStore, cache: KeyCache, interval: Duration, logger: Logger) {
        self.log = log
        self.keys = keys
        self.cache = cache
        self.interval = interval
        self.logger = logger
        (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues a record; returns at once.
    package func record(_ record: CallRecord) {
        queue.withLock { $0.records.append(record) }
    }

    /// Queues a record and returns once a commit holds it.
    package func recordDurably(_ record: CallRecord) async {
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
        await flush()
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
            for waiter in waiters { waiter.resume() }
        } catch {
            logger.error("call log write failed; will retry", metadata: ["error": "\(error)", "perimeter.calls": "\(batch.count)"])
            queue.withLock { $0.records.insert(contentsOf: batch, at: 0) }
            for waiter in waiters { waiter.resume() }
            return
        }
        var lastUsed: [String: Date] = [:]
        for record in batch {
            guard let keyID = record.keyID else { continue }
            lastUsed[keyID] = max(lastUsed[keyID] ?? record.time, record.time)
        }
        cache.recordUse(lastUsed)
        do {
            try await keys.recordUse(lastUsed)
        } catch {
            logger.warning("last-used update failed", metadata: ["error": "\(error)"])
        }
    }
}
