import Foundation
import Logging
import PerimeterCore
import PerimeterStorage
import ServiceLifecycle
import Synchronization

/// Takes finished call records off the request path and writes them in batches: one transaction per
/// flush interval, however many calls finished in it. On graceful shutdown it writes what is left.
///
/// A batch that fails to write is kept and tried again on the next tick; appends are idempotent by
/// call id, so a retried batch never duplicates rows.
package final class CallLogWriter: Service, Sendable {
    private let log: any CallLog
    private let keys: any KeyStore
    private let cache: KeyCache
    private let interval: Duration
    private let logger: Logger
    private let pending = Mutex<[CallRecord]>([])

    package init(log: any CallLog, keys: any KeyStore, cache: KeyCache, interval: Duration, logger: Logger) {
        self.log = log
        self.keys = keys
        self.cache = cache
        self.interval = interval
        self.logger = logger
    }

    /// Queues a record; returns at once.
    package func record(_ record: CallRecord) {
        pending.withLock { $0.append(record) }
    }

    package func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            // Only the wait is cut short by shutdown; a write in progress is never cancelled.
            await cancelWhenGracefulShutdown { try? await Task.sleep(for: self.interval) }
            await flush()
        }
        // The HTTP server stopped before this service (services stop in reverse order), so no call
        // can still be queued after this final flush.
        await flush()
    }

    /// Writes everything queued so far.
    package func flush() async {
        let batch = pending.withLock { pending in
            defer { pending.removeAll(keepingCapacity: true) }
            return pending
        }
        guard !batch.isEmpty else { return }
        do {
            try await log.append(batch)
        } catch {
            logger.error("call log write failed; will retry", metadata: ["error": "\(error)", "perimeter.calls": "\(batch.count)"])
            pending.withLock { $0.insert(contentsOf: batch, at: 0) }
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
