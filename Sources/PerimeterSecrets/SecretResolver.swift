import Foundation
import Logging
import PerimeterCore
import Synchronization

/// The outcome of resolving one reference, for `serve --check`, `secrets reload` and `/readyz`.
/// Never holds the value.
public struct SecretCheck: Sendable, Hashable {
    public var reference: SecretReference
    /// The scheme of the store that answered (or failed).
    public var store: String
    public var version: String?
    /// When the store says this version was created.
    public var createdAt: Date?
    /// When the store last changed the version's attributes (Key Vault), if it says.
    public var updatedAt: Date?
    public var error: String?
    /// The store answered that there is no such secret (as opposed to failing).
    public var notFound = false

    public var ok: Bool { error == nil }
}

/// Resolves references through the store for their scheme and keeps each value in memory, so the
/// request path reads memory only. ``SecretRefresher`` fetches values again every `timeToLive` in
/// the background; a rotated secret takes effect on the first request after that refresh, or at once
/// after ``refreshAll()`` (`perimeter secrets reload`).
///
/// When a store is unreachable the last good value serves for `grace`, then requests fail with
/// `secret_unavailable`; each incident is logged when it starts, when its grace ends and when it
/// recovers, not once per request.
public final class SecretResolver: Sendable {
    private let stores: [String: any SecretStore]
    public let timeToLive: Duration
    public let grace: Duration
    /// How soon a failing reference is tried again.
    let retryAfter: Duration
    private let logger: Logger
    private let now: @Sendable () -> ContinuousClock.Instant
    private let entries = Mutex<[SecretReference: SecretCacheEntry]>([:])

    public init(
        stores: [String: any SecretStore], timeToLive: Duration = .seconds(300), grace: Duration = .seconds(3600),
        retryAfter: Duration = .seconds(5), logger: Logger = Logger(label: "perimeter.secrets"),
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        self.now = now
        self.stores = stores
        self.timeToLive = timeToLive
        self.grace = grace
        self.retryAfter = retryAfter
        self.logger = logger
    }

    /// `env:` and `file:` on the real environment and file system.
    public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment) -> SecretResolver {
        SecretResolver(stores: ["env": EnvironmentSecretStore(environment: environment), "file": FileSecretStore()])
    }

    /// The value for a request: from memory, or fetched now when none was fetched yet.
    public func secret(for reference: SecretReference) async throws -> Secret {
        let now = self.now()
        switch entries.withLock({ $0[reference, default: SecretCacheEntry()].read(at: now, grace: grace, retryAfter: retryAfter) }) {
        case .serve(let secret):
            return secret
        case .unavailable(let reason):
            throw SecretUnavailable(reference: reference, reason: reason)
        case .fetch:
            let check = await refresh(reference)
            if let error = check.error { throw SecretUnavailable(reference: reference, reason: error) }
            let read = entries.withLock { $0[reference]?.read(at: self.now(), grace: grace, retryAfter: retryAfter) }
            guard case .serve(let secret) = read else {
                throw SecretUnavailable(reference: reference, reason: "the store is unavailable")
            }
            return secret
        }
    }

    /// Fetches `reference` from its store now and updates the cache.
    @discardableResult
    public func refresh(_ reference: SecretReference) async -> SecretCheck {
        let ticket = entries.withLock { $0[reference, default: SecretCacheEntry()].attempted(at: now()) }
        do {
            guard let store = stores[reference.scheme] else { throw SecretStoreError.noStore(scheme: reference.scheme) }
            let fetched = try await store.fetch(reference)
            let event = entries.withLock {
                $0[reference, default: SecretCacheEntry()].succeeded(fetched, at: now(), ticket: ticket)
            }
            report(event, reference)
            return SecretCheck(reference: reference, store: reference.scheme, version: fetched.version)
        } catch {
            let transient = (error as? SecretStoreError)?.isTransient ?? true
            var missing = false
            if case .notFound = error as? SecretStoreError { missing = true }
            let reason = "\(error)"
            let event = entries.withLock {
                $0[reference, default: SecretCacheEntry()].failed(
                    reason: reason, transient: transient, missing: missing, at: now(), ticket: ticket)
            }
            report(event, reference)
            var check = SecretCheck(reference: reference, store: reference.scheme, error: reason)
            check.notFound = missing
            return check
        }
    }

    /// Fetches every known reference now (`perimeter secrets reload`).
    public func refreshAll() async -> [SecretCheck] {
        var checks: [SecretCheck] = []
        for reference in knownReferences {
            checks.append(await refresh(reference))
        }
        return checks
    }

    /// Fetches the references whose time is up, and reports incidents whose grace has run out.
    public func refreshDue() async {
        let now = self.now()
        let due = entries.withLock { entries in
            entries.filter { $0.value.isDue(at: now, timeToLive: timeToLive, retryAfter: retryAfter) }.map(\.key)
        }
        for reference in due {
            await refresh(reference)
        }
        let events = entries.withLock { entries in
            entries.keys.compactMap { reference in
                entries[reference]!.checkGrace(at: now, grace: grace).map { (reference, $0) }
            }
        }
        for (reference, event) in events {
            report(event, reference)
        }
    }

    /// Lets every store renew its login.
    public func maintainStores() async {
        for store in stores.values {
            await store.maintain()
        }
    }

    /// Where each reference stands now, without fetching: for `/readyz`.
    public func status(of reference: SecretReference) -> SecretCheck {
        guard let entry = entries.withLock({ $0[reference] }) else {
            return SecretCheck(reference: reference, store: reference.scheme, error: "not fetched yet")
        }
        if case .serve = entry.read(at: now(), grace: grace, retryAfter: .zero) {
            var check = SecretCheck(reference: reference, store: reference.scheme, version: entry.value?.version)
            check.createdAt = entry.value?.createdAt
            check.updatedAt = entry.value?.updatedAt
            return check
        }
        var check = SecretCheck(reference: reference, store: reference.scheme, error: entry.failure ?? "not fetched yet")
        check.notFound = entry.missing
        return check
    }

    /// Makes the refresher look after `references` from now on (fetching each on its first round).
    public func track(_ references: some Sequence<SecretReference>) {
        entries.withLock { entries in
            for reference in references where entries[reference] == nil {
                entries[reference] = SecretCacheEntry()
            }
        }
    }

    /// The values held in memory now, by reference: for the leak scanner's keyed fingerprints
    /// (`POST /admin/v1/fingerprints`), which never send a value. Fetches nothing.
    package var cachedSecrets: [(reference: SecretReference, secret: Secret)] {
        entries.withLock { entries in entries.compactMap { reference, entry in entry.value.map { (reference, $0.secret) } } }
            .sorted { $0.reference.description < $1.reference.description }
    }

    public var knownReferences: [SecretReference] {
        entries.withLock { Array($0.keys) }.sorted { $0.description < $1.description }
    }

    private func report(_ event: SecretCacheEntry.Event?, _ reference: SecretReference) {
        switch event {
        case .incidentStarted(let reason, let servingLastGood):
            if servingLastGood {
                logger.warning(
                    "secret \(reference) unavailable (\(reason)); serving the last good value for up to \(grace.seconds) s")
            } else {
                logger.error("secret \(reference) unavailable (\(reason)); calls that need it fail with secret_unavailable")
            }
        case .graceEnded(let reason):
            logger.error(
                "secret \(reference) still unavailable after the grace period of \(grace.seconds) s (\(reason)); calls that need it now fail with secret_unavailable"
            )
        case .recovered:
            logger.notice("secret \(reference) available again")
        case nil:
            break
        }
    }
}

/// A request needed a secret the resolver cannot provide.
public struct SecretUnavailable: Error, Sendable, CustomStringConvertible {
    public var reference: SecretReference
    public var reason: String

    public var description: String { reason }
}

extension Duration {
    var seconds: Int64 { components.seconds }
}
