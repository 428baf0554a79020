import Foundation
import Logging
import PerimeterCore
import PerimeterProxy
import PerimeterSecrets
import PerimeterStorage
import ServiceLifecycle

/// Keeps this instance's key cache in step with keys changed through other instances sharing the
/// database: each change notification reloads that key, a reload of every key follows each
/// (re)connection and runs every `resyncInterval` too, so a notification lost while the listener
/// was reconnecting is caught up. Authentication still reads memory only.
struct KeySync: Service {
    let feed: any KeyChangeFeed
    let store: any KeyStore & CallLog
    let cache: KeyCache
    let budgets: BudgetBook
    let writer: CallLogWriter
    /// Told of built-in store secrets changed through other instances.
    let secrets: SecretResolver
    let logger: Logger
    var resyncInterval: Duration = .seconds(30)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await follow() }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: resyncInterval)
                        if !Task.isCancelled { await resync() }
                    }
                }
                await group.waitForAll()
            }
        }
    }

    private func follow() async {
        while !Task.isCancelled {
            await resync()
            do {
                try await feed.followKeyChanges { id in
                    if id.hasPrefix(KeyChange.secretPrefix) {
                        await secrets.refresh(SecretReference(scheme: "store", path: String(id.dropFirst(KeyChange.secretPrefix.count))))
                    } else {
                        await apply(id: id)
                    }
                }
            } catch {
                logger.warning("key change notifications broke; reconnecting", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    private func resync() async {
        // Built-in store secrets changed while no notification could arrive are read again (a local
        // read of the shared database; secrets of outside stores keep their own refresh schedule).
        for reference in secrets.knownReferences where reference.scheme == "store" { await secrets.refresh(reference) }
        do {
            for key in try await store.allKeys() { await apply(key) }
        } catch {
            logger.warning("reloading keys failed", metadata: ["error": "\(error)"])
        }
    }

    private func apply(id: String) async {
        do {
            if let key = try await store.key(id: id) { await apply(key) }
        } catch {
            logger.warning("reloading a changed key failed", metadata: ["perimeter.key.id": "\(id)", "error": "\(error)"])
        }
    }

    /// Stores the key; a key new to this instance, or whose budget changed elsewhere, has its budget's
    /// spend in this period read from the shared call log.
    private func apply(_ key: VirtualKey) async {
        let previous = cache.merge(key)
        guard let claim = budgets.keyClaim(for: key), previous == nil || previous?.policy.budget != key.policy.budget else { return }
        await writer.flush()
        try? await budgets.ledger.recover([claim], from: store, at: Date())
    }
}
