import Foundation
import Logging
import PerimeterCore
import PerimeterStorage
import ServiceLifecycle

/// One provider whose own key list and usage the gateway reads with an admin credential.
public struct ProviderAdminTarget: Sendable {
    /// A secret the gateway holds, with the reference the inventory names it by.
    public struct Held: Sendable {
        public var reference: String
        public var secret: @Sendable () async throws -> Secret

        public init(reference: String, secret: @escaping @Sendable () async throws -> Secret) {
            self.reference = reference
            self.secret = secret
        }
    }

    public var provider: String
    public var api: any ProviderAdminAPI
    /// The provider credential calls go out with, when the provider has one.
    public var held: Held?
    /// The provider's id for that credential, when config says it (`key_id`): matched before any hint.
    public var heldKeyID: String?
    public var admin: Held
    /// Every configured provider that calls out with the same credential: their logged calls are its use.
    public var loggedProviders: [String]

    public init(
        provider: String, api: any ProviderAdminAPI, held: Held?, heldKeyID: String?, admin: Held, loggedProviders: [String]
    ) {
        self.provider = provider
        self.api = api
        self.held = held
        self.heldKeyID = heldKeyID
        self.admin = admin
        self.loggedProviders = loggedProviders
    }
}

/// Reads each target's key list and usage report, stores the lists, and raises `shadow_usage` and
/// `unmanaged_key_used`. The lists are matched against the secrets the gateway holds here, locally:
/// no secret is sent anywhere but to its own provider.
public actor ProviderKeySync {
    let targets: [ProviderAdminTarget]
    let store: any ProviderKeyStore
    let calls: any CallLog
    let raise: @Sendable ([Alert]) async -> Void
    let maxAge: Duration?
    let logger: Logger
    /// Every provider credential the gateway holds, whatever provider calls out with it, and the
    /// provider key ids config gives for them: a key any of them is counts as held.
    let allHeld: [ProviderAdminTarget.Held]
    let heldKeyIDs: [String: String]
    /// The sync under way: a second caller waits for it rather than starting another that could
    /// finish first and be overwritten by an older answer.
    private var running: Task<[ProviderKeySnapshot], Never>?
    /// How far back each sync compares usage: a day of whole hours.
    static let usageWindow: TimeInterval = 24 * 3600
    /// Calls logged this close outside a bucket still count for it (a call's time is its start).
    static let edgeSlack: TimeInterval = 120
    private var lastStatus: [String: String] = [:]

    /// `allHeld` and `heldKeyIDs` (by key id, the reference) default to the targets' own credentials.
    public init(
        targets: [ProviderAdminTarget], allHeld: [ProviderAdminTarget.Held]? = nil, heldKeyIDs: [String: String]? = nil,
        store: any ProviderKeyStore, calls: any CallLog, maxAge: Duration?, logger: Logger,
        raise: @escaping @Sendable ([Alert]) async -> Void
    ) {
        self.targets = targets
        self.allHeld = allHeld ?? targets.compactMap(\.held)
        self.heldKeyIDs =
            heldKeyIDs
            ?? Dictionary(
                targets.compactMap { target in target.heldKeyID.flatMap { id in target.held.map { (id, $0.reference) } } },
                uniquingKeysWith: { a, _ in a })
        self.store = store
        self.calls = calls
        self.maxAge = maxAge
        self.logger = logger
        self.raise = raise
    }

    public var isEmpty: Bool { targets.isEmpty }

    /// Syncs every target; a target that fails keeps its last list and says why in its snapshot. A
    /// call while a sync runs gets that sync's answer.
    @discardableResult
    public func syncAll(now: Date = Date()) async -> [ProviderKeySnapshot] {
        if let running { return await running.value }
        let task = Task { await self.syncEach(now: now) }
        running = task
        let snapshots = await task.value
        running = nil
        return snapshots
    }

    private func syncEach(now: Date) async -> [ProviderKeySnapshot] {
        var snapshots: [ProviderKeySnapshot] = []
        let stored = Dictionary((try? await store.providerKeySnapshots())?.map { ($0.provider, $0) } ?? [], uniquingKeysWith: { a, _ in a })
        for target in targets {
            snapshots.append(await sync(target, previous: stored[target.provider], now: now))
        }
        return snapshots
    }

    private func sync(_ target: ProviderAdminTarget, previous: ProviderKeySnapshot?, now: Date) async -> ProviderKeySnapshot {
        var snapshot = ProviderKeySnapshot(
            provider: target.provider, attemptedAt: now, status: "ok", syncedAt: previous?.syncedAt, keys: previous?.keys ?? [])
        do {
            snapshot.keys = try await target.api.listKeys()
            snapshot.syncedAt = now
            let assessed = await assess(snapshot.keys, target: target, now: now)
            try await checkUsage(target, assessed: assessed, now: now)
        } catch let error as ProviderAdminError {
            snapshot.status = error.status
            snapshot.message = error.description
        } catch {
            snapshot.status = "error"
            snapshot.message = String(describing: error).prefix(300).description
        }
        // Said once per change, not at every sync: a refused admin credential is one clear warning.
        if lastStatus[target.provider] != snapshot.status {
            if snapshot.status == "ok" {
                logger.info("provider \(target.provider): \(snapshot.keys.count) keys listed by its admin API")
            } else {
                logger.warning("provider \(target.provider): key list not read: \(snapshot.message ?? snapshot.status)")
            }
            lastStatus[target.provider] = snapshot.status
        }
        // Through the alert channels too, once per change of the stored status (so once for a cluster).
        if snapshot.status != "ok", previous?.status != snapshot.status {
            await raise([Self.syncFailedAlert(snapshot, now: now)])
        }
        do {
            try await store.saveProviderKeys(snapshot)
        } catch {
            logger.error("provider \(target.provider): key list not stored: \(error)")
        }
        return snapshot
    }

    /// Every stored provider key, assessed against what the gateway holds now.
    public func assessments(now: Date = Date()) async throws -> [ProviderKeyAssessment] {
        let snapshots = try await store.providerKeySnapshots()
        var result: [ProviderKeyAssessment] = []
        for snapshot in snapshots {
            guard let target = targets.first(where: { $0.provider == snapshot.provider }) else { continue }
            result += await assess(snapshot.keys, target: target, now: now)
        }
        return result
    }

    /// Each key matched against every credential the gateway holds (any provider's `api_key` and every
    /// `admin_key`), by configured id first, then by hint. When one of them cannot be read now, a key
    /// that matches none is `unverified`, not `unmanaged`: it may be that one.
    func assess(_ keys: [ProviderKey], target: ProviderAdminTarget, now: Date) async -> [ProviderKeyAssessment] {
        var secrets: [(reference: String, secret: Secret)] = []
        var complete = true
        for held in allHeld + targets.map(\.admin) {
            if let secret = try? await held.secret() { secrets.append((held.reference, secret)) } else { complete = false }
        }
        return keys.map { key in
            let heldAs =
                heldKeyIDs[key.id]
                ?? key.hint.flatMap { hint in secrets.first { ProviderKeyHint.matches(hint: hint, secret: $0.secret) }?.reference }
            return ProviderKeyAssessment.assess(key, heldAs: heldAs, maxAge: maxAge, now: now, heldKnown: complete)
        }
    }

    /// Compares the provider's hourly usage over the last day, the hour under way included, with the
    /// call log, and raises what differs. A provider's report lags (Anthropic: about five minutes),
    /// which only ever makes it show less than the log, never a false excess.
    private func checkUsage(_ target: ProviderAdminTarget, assessed: [ProviderKeyAssessment], now: Date) async throws {
        let end = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 3600).rounded(.down) * 3600 + 3600)
        let buckets = try await target.api.usage(from: end.addingTimeInterval(-Self.usageWindow), to: end)
        var alerts: [Alert] = []
        // The held key: an active one first, when a hint matched more than one.
        let matches = assessed.filter { $0.heldAs != nil && $0.heldAs == target.held?.reference }
        let heldID = (matches.first { $0.key.status == "active" } ?? matches.first)?.key.id
        if target.held != nil, heldID == nil, !assessed.isEmpty {
            logger.warning(
                "provider \(target.provider): the credential the gateway holds is not in the provider's key list (set key_id?): its shadow usage is not checked"
            )
        }
        if let heldID {
            var logged: [Date: Int] = [:]
            for start in Set(buckets.filter { $0.keyID == heldID }.map(\.start)) {
                let rows = try await calls.spend(
                    SpendQuery(
                        groupBy: .provider, since: start.addingTimeInterval(-Self.edgeSlack),
                        until: start.addingTimeInterval(3600 + Self.edgeSlack)))
                logged[start] = rows.filter { target.loggedProviders.contains($0.group) }.reduce(0) {
                    $0 + $1.inputTokens + $1.outputTokens
                }
            }
            for shadow in ShadowUsage.find(buckets: buckets, keyID: heldID, logged: logged) {
                alerts.append(Self.shadowAlert(shadow, target: target, keyID: heldID))
            }
        }
        let unmanaged = Dictionary(
            assessed.filter { $0.flags.contains("unmanaged") }.map { ($0.key.id, $0.key) }, uniquingKeysWith: { a, _ in a })
        let listed = Set(assessed.map(\.key.id))
        let complete = !assessed.contains { $0.flags.contains("unverified") }
        var used: [String: (key: ProviderKey, tokens: Int, day: Date)] = [:]
        for bucket in buckets where bucket.tokens > 0 {
            guard let id = bucket.keyID, id != heldID else { continue }
            // A key used but no longer in the list (deleted, or in an archived project) is not held either.
            let unlisted = complete && !listed.contains(id) && !heldKeyIDs.keys.contains(id)
            guard let key = unmanaged[id] ?? (unlisted ? ProviderKey(provider: target.provider, id: id, kind: "api_key") : nil) else {
                continue
            }
            let day = Date(timeIntervalSince1970: (bucket.start.timeIntervalSince1970 / 86400).rounded(.down) * 86400)
            let key2 = "\(id)|\(day.timeIntervalSince1970)"
            used[key2] = (key, (used[key2]?.tokens ?? 0) + bucket.tokens, day)
        }
        for (_, use) in used.sorted(by: { $0.key < $1.key }) {
            alerts.append(Self.unmanagedAlert(use.key, tokens: use.tokens, day: use.day, now: now))
        }
        if !alerts.isEmpty { await raise(alerts) }
    }

    static func shadowAlert(_ shadow: ShadowUsage, target: ProviderAdminTarget, keyID: String) -> Alert {
        let hour = Timestamp.format(shadow.bucket.start)
        return Alert(
            type: .shadowUsage, severity: .critical, time: min(shadow.bucket.end, Date()), keyID: nil, env: nil,
            message:
                "Provider \(target.provider) reports \(shadow.bucket.tokens) tokens for the credential the gateway holds (\(target.held?.reference ?? keyID)) in the hour from \(hour), but only \(shadow.loggedTokens) went through the gateway: the provider key itself is used elsewhere. Rotate it.",
            details: [
                "provider": target.provider, "provider_key_id": keyID, "hour": hour, "reported_tokens": String(shadow.bucket.tokens),
                "logged_tokens": String(shadow.loggedTokens), "excess_tokens": String(shadow.excessTokens),
            ],
            onceKey: "shadow_usage|\(target.provider)|\(keyID)|\(hour)")
    }

    static func syncFailedAlert(_ snapshot: ProviderKeySnapshot, now: Date) -> Alert {
        Alert(
            type: .providerSyncFailed, severity: .warning, time: now, keyID: nil, env: nil,
            message:
                "Provider \(snapshot.provider)'s admin API could not be read (\(snapshot.status)): \(snapshot.message ?? "no answer"). Its key list and usage are not checked until it can; the gateway serves calls as before.",
            details: ["provider": snapshot.provider, "status": snapshot.status, "message": snapshot.message ?? ""],
            onceKey: "provider_sync_failed|\(snapshot.provider)|\(snapshot.status)|\(Timestamp.format(now).prefix(13))")
    }

    static func unmanagedAlert(_ key: ProviderKey, tokens: Int, day: Date, now: Date) -> Alert {
        let date = String(Timestamp.format(day).prefix(10))
        let who = key.owner.map { " of \($0)" } ?? ""
        return Alert(
            type: .unmanagedKeyUsed, severity: .warning, time: now, keyID: nil, env: nil,
            message:
                "Provider key '\(key.name ?? key.id)' (\(key.id))\(who) at \(key.provider), which the gateway does not hold, used \(tokens) tokens on \(date). Replace it with a virtual key, or disable it: perimeter provider-keys disable \(key.id).",
            details: [
                "provider": key.provider, "provider_key_id": key.id, "name": key.name ?? "", "owner": key.owner ?? "",
                "tokens": String(tokens), "day": date,
            ],
            onceKey: "unmanaged_key_used|\(key.provider)|\(key.id)|\(date)")
    }
}

extension ProviderKeySync {
    /// Deactivates provider key `id` at its provider, unless it is a credential the gateway holds (that
    /// one is rotated, not disabled) or already inactive. `dryRun` checks everything and changes nothing.
    /// Returns the key as it was before.
    public func disable(id: String, dryRun: Bool, now: Date = Date()) async throws -> ProviderKeyAssessment {
        for snapshot in try await store.providerKeySnapshots() {
            guard let key = snapshot.keys.first(where: { $0.id == id }),
                let target = targets.first(where: { $0.provider == snapshot.provider }),
                let assessed = await assess([key], target: target, now: now).first
            else { continue }
            if let held = assessed.heldAs {
                throw GatewayError.conflict("\(id) is the credential the gateway holds (\(held)): rotate it instead of disabling it.")
            }
            if assessed.flags.contains("unverified") {
                throw GatewayError.conflict(
                    "Not every credential the gateway holds can be read now, so \(id) may be one of them: nothing was disabled.")
            }
            guard key.status == "active" else { throw GatewayError.conflict("\(id) is already \(key.status) at \(key.provider).") }
            if dryRun { return assessed }
            do {
                try await target.api.disable(key)
            } catch let error as ProviderAdminError {
                throw GatewayError.deliveryFailed("\(key.provider) did not disable \(id): \(error)")
            }
            // Read again: a sync may have stored a newer list while the provider answered.
            if var current = try await store.providerKeySnapshots().first(where: { $0.provider == snapshot.provider }),
                let position = current.keys.firstIndex(where: { $0.id == id })
            {
                current.keys[position].status = "inactive"
                try await store.saveProviderKeys(current)
            }
            return assessed
        }
        throw GatewayError.notFound("No provider key \(id) in the last sync; run perimeter inventory sync.")
    }
}

/// Syncs every `interval` (the first right away), on one instance of a cluster at a time.
public struct ProviderKeySyncService: Service {
    let sync: ProviderKeySync
    let interval: Duration
    let lock: (any ClusterLock)?
    /// Any fixed number: the advisory lock of the instance syncing provider keys.
    static let lockID: Int64 = 0x5045_5249_5056_4B53

    public init(sync: ProviderKeySync, interval: Duration, lock: (any ClusterLock)?) {
        self.sync = sync
        self.interval = interval
        self.lock = lock
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                if let lock {
                    _ = try? await lock.ifFree(Self.lockID) { await sync.syncAll() }
                } else {
                    await sync.syncAll()
                }
                do {
                    try await Task.sleep(for: interval)
                } catch {
                    return
                }
            }
        }
    }
}
