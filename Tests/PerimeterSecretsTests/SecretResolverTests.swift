import Foundation
import PerimeterCore
import Testing

@testable import PerimeterSecrets

@Suite struct SecretCacheEntryTests {
    let start = ContinuousClock.now
    let grace = Duration.seconds(60)
    let retry = Duration.seconds(5)
    let ttl = Duration.seconds(300)

    @Test func fetchesFirstThenServesUntilDue() {
        var entry = SecretCacheEntry()
        #expect(entry.read(at: start, grace: grace, retryAfter: retry) == .fetch)
        #expect(entry.succeeded(FetchedSecret(Secret("v1")), at: start) == nil)
        #expect(entry.read(at: start + .seconds(1000), grace: grace, retryAfter: retry) == .serve(Secret("v1")))
        #expect(!entry.isDue(at: start + .seconds(299), timeToLive: ttl, retryAfter: retry))
        #expect(entry.isDue(at: start + .seconds(300), timeToLive: ttl, retryAfter: retry))
    }

    @Test func anUnreachableStoreServesTheLastGoodValueForTheGracePeriod() {
        var entry = SecretCacheEntry()
        _ = entry.succeeded(FetchedSecret(Secret("v1")), at: start)
        let failed = start + .seconds(300)
        #expect(
            entry.failed(reason: "down", transient: true, at: failed)
                == .incidentStarted(reason: "down", servingLastGood: true))
        // Later failures of the same incident report nothing.
        #expect(entry.failed(reason: "down", transient: true, at: failed + .seconds(5)) == nil)
        #expect(entry.read(at: failed + .seconds(59), grace: grace, retryAfter: retry) == .serve(Secret("v1")))
        #expect(entry.read(at: failed + .seconds(60), grace: grace, retryAfter: retry) == .unavailable(reason: "down"))
        #expect(entry.checkGrace(at: failed + .seconds(59), grace: grace) == nil)
        #expect(entry.checkGrace(at: failed + .seconds(60), grace: grace) == .graceEnded(reason: "down"))
        #expect(entry.checkGrace(at: failed + .seconds(61), grace: grace) == nil)
        // While failing, it is retried sooner than the time to live.
        #expect(entry.isDue(at: failed + .seconds(10), timeToLive: ttl, retryAfter: retry))
        #expect(entry.succeeded(FetchedSecret(Secret("v2")), at: failed + .seconds(70)) == .recovered)
        #expect(entry.read(at: failed + .seconds(70), grace: grace, retryAfter: retry) == .serve(Secret("v2")))
    }

    @Test func aSecretTheStoreNoLongerHasStopsAtOnce() {
        var entry = SecretCacheEntry()
        _ = entry.succeeded(FetchedSecret(Secret("v1")), at: start)
        #expect(
            entry.failed(reason: "deleted", transient: false, at: start + .seconds(1))
                == .incidentStarted(reason: "deleted", servingLastGood: false))
        #expect(entry.read(at: start + .seconds(2), grace: grace, retryAfter: retry) == .unavailable(reason: "deleted"))
        // Without a value, a request may try the store again after `retryAfter`.
        #expect(entry.read(at: start + .seconds(6), grace: grace, retryAfter: retry) == .fetch)
    }
}

@Suite struct SecretResolverTests {
    let reference = SecretReference(scheme: "vault", path: "secret/app#key")

    @Test func servesFromMemoryAndPicksUpARotationAtTheNextRefresh() async throws {
        let clock = ManualClock()
        let store = MemorySecretStore([reference: Secret("v1")])
        let resolver = SecretResolver(stores: ["vault": store], timeToLive: .seconds(300), now: { clock.now })
        #expect(try await resolver.secret(for: reference).revealed == "v1")
        #expect(try await resolver.secret(for: reference).revealed == "v1")
        #expect(store.fetchCount == 1)
        store.set(reference, to: Secret("v2"))
        clock.advance(.seconds(299))
        await resolver.refreshDue()
        #expect(try await resolver.secret(for: reference).revealed == "v1")  // not due yet
        #expect(store.fetchCount == 1)
        clock.advance(.seconds(1))
        await resolver.refreshDue()
        #expect(try await resolver.secret(for: reference).revealed == "v2")
        #expect(store.fetchCount == 2)
    }

    @Test func failsClosedAfterTheGracePeriod() async throws {
        let clock = ManualClock()
        let store = MemorySecretStore([reference: Secret("v1")])
        let resolver = SecretResolver(
            stores: ["vault": store], timeToLive: .seconds(60), grace: .seconds(600), retryAfter: .seconds(5),
            now: { clock.now })
        #expect(try await resolver.secret(for: reference).revealed == "v1")
        store.fail(with: .unreachable(reference, reason: "connection refused"))
        clock.advance(.seconds(60))
        await resolver.refreshDue()  // the incident starts here
        clock.advance(.seconds(599))
        await resolver.refreshDue()
        #expect(try await resolver.secret(for: reference).revealed == "v1")
        #expect(resolver.status(of: reference).ok)
        clock.advance(.seconds(1))
        await resolver.refreshDue()
        await #expect(throws: SecretUnavailable.self) { try await resolver.secret(for: reference) }
        #expect(resolver.status(of: reference).error?.contains("connection refused") == true)
        store.fail(with: nil)
        store.set(reference, to: Secret("v2"))
        let checks = await resolver.refreshAll()
        #expect(checks.map(\.ok) == [true])
        #expect(try await resolver.secret(for: reference).revealed == "v2")
    }

    @Test func aSlowFetchThatStartedEarlierCannotPutAnOldValueBack() {
        var entry = SecretCacheEntry()
        let start = ContinuousClock.now
        let slow = entry.attempted(at: start)
        let fast = entry.attempted(at: start)
        _ = entry.succeeded(FetchedSecret(Secret("new")), at: start, ticket: fast)
        _ = entry.succeeded(FetchedSecret(Secret("old")), at: start, ticket: slow)
        #expect(entry.read(at: start, grace: .seconds(1), retryAfter: .seconds(1)) == .serve(Secret("new")))
        #expect(entry.failed(reason: "late", transient: false, at: start, ticket: slow) == nil)
        #expect(entry.read(at: start, grace: .seconds(1), retryAfter: .seconds(1)) == .serve(Secret("new")))
    }

    @Test func cachedSecretsListsOnlyWhatWasFetched() async throws {
        let other = SecretReference(scheme: "vault", path: "other")
        let resolver = SecretResolver(stores: ["vault": MemorySecretStore([reference: Secret("v1")])])
        resolver.track([reference, other])
        #expect(resolver.cachedSecrets.isEmpty)
        await resolver.refresh(reference)
        await resolver.refresh(other)
        #expect(resolver.cachedSecrets.map(\.reference) == [reference])
        #expect(resolver.cachedSecrets.map(\.secret) == [Secret("v1")])
    }

    @Test func aMissingSecretIsUnavailableAndReportedAsNotFound() async throws {
        let resolver = SecretResolver(stores: ["vault": MemorySecretStore()])
        let check = await resolver.refresh(reference)
        #expect(check.notFound)
        #expect(check.error?.contains("not found") == true)
        await #expect(throws: SecretUnavailable.self) { try await resolver.secret(for: reference) }
        let unknown = await resolver.refresh(SecretReference(scheme: "nope", path: "x"))
        #expect(unknown.error?.contains("no secret store") == true)
    }
}

@Suite struct SecretReferenceTests {
    @Test func parsesEachScheme() throws {
        let vault = try SecretReference(parsing: "vault:secret/perimeter/openai#api_key")
        #expect(vault.location == "secret/perimeter/openai" && vault.field == "api_key")
        let aws = try SecretReference(parsing: "aws-sm:prod/openai#key")
        #expect(aws.location == "prod/openai" && aws.field == "key")
        #expect(try SecretReference(parsing: "aws-sm:arn:aws:secretsmanager:us-east-1:1:secret:x").field == nil)
        #expect(try SecretReference(parsing: "store:openai-prod").path == "openai-prod")
        #expect(try SecretReference(parsing: "file:/run/a#b").field == nil)
    }

    @Test func refusesMalformedReferences() {
        for text in ["vault:secret", "vault:secret/#x", "vault:secret/a#", "aws-sm:#x", "store:a/b", "store:..", "sk-live-123"] {
            #expect(throws: SecretReferenceError.self, "\(text)") { try SecretReference(parsing: text) }
        }
    }
}
