import Foundation
import HTTPTypes
import PerimeterCore
import Synchronization

/// Per-key request and token buckets, in memory. A bucket is created on a key's first call and
/// rebuilt when the key's limits change.
///
/// Instances sharing a database split every key's per-minute limits (``RateShare``): each keeps a
/// small floor and the rest follows the demand each saw in the last minute, exchanged through the
/// database once a second (``demand(at:)`` out, ``setShares(instances:elsewhere:now:)`` in). Together
/// they admit at most the key's limit, whether a load balancer spreads a client evenly or holds it to
/// one instance. A share that grows refills faster but adds no units at once, so a resize never hands
/// out a fresh minute.
package final class RateLimiter: Sendable {
    struct Buckets: Sendable {
        var requestsPerMinute: Int?
        var tokensPerMinute: Int?
        var requests: TokenBucket?
        var tokens: TokenBucket?
    }

    /// What a limited key's responses say about its limits.
    package struct Snapshot: Sendable {
        var requests: (limit: Int, remaining: Int, reset: Double)?
        var tokens: (limit: Int, remaining: Int, reset: Double)?

        /// OpenAI's `x-ratelimit-*` headers.
        package func apply(to headers: inout HTTPFields) {
            if let requests {
                headers[HTTPField.Name("x-ratelimit-limit-requests")!] = String(requests.limit)
                headers[HTTPField.Name("x-ratelimit-remaining-requests")!] = String(requests.remaining)
                headers[HTTPField.Name("x-ratelimit-reset-requests")!] = RateLimitDuration.format(seconds: requests.reset)
            }
            if let tokens {
                headers[HTTPField.Name("x-ratelimit-limit-tokens")!] = String(tokens.limit)
                headers[HTTPField.Name("x-ratelimit-remaining-tokens")!] = String(tokens.remaining)
                headers[HTTPField.Name("x-ratelimit-reset-tokens")!] = RateLimitDuration.format(seconds: tokens.reset)
            }
        }
    }

    private struct State {
        var buckets: [String: Buckets] = [:]
        /// What each limited key asked of this instance in the last minute.
        var demand: [String: DemandWindow] = [:]
        var instances = 1
        /// What each key asked of the other instances, as last exchanged.
        var elsewhere: [String: RateDemand] = [:]
        /// Cut off from the others (the exchange keeps failing): every share is its floor, as the
        /// others may stop counting this instance and take the rest of the limit.
        var isCutOff = false
    }

    private let state = Mutex(State())

    /// How many instances share the limits, and the demand the others saw; resizes every bucket to
    /// its new share.
    package func setShares(instances: Int, elsewhere: [String: RateDemand], now: Date) {
        state.withLock { state in
            state.instances = max(1, instances)
            state.elsewhere = elsewhere
            state.isCutOff = false
            for (id, entry) in state.buckets {
                state.buckets[id] = Self.resized(entry, id: id, state: state, now: now)
            }
        }
    }

    /// No exchange with the other instances for a while: hold every key to its floor share until the
    /// next one, never to a share the others may no longer leave room for.
    package func holdToFloor(now: Date) {
        state.withLock { state in
            guard !state.isCutOff else { return }
            state.isCutOff = true
            for (id, entry) in state.buckets {
                state.buckets[id] = Self.resized(entry, id: id, state: state, now: now)
            }
        }
    }

    /// What each limited key asked of this instance in the last minute (keys with none are dropped).
    package func demand(at now: Date) -> [String: RateDemand] {
        state.withLock { state in
            var out: [String: RateDemand] = [:]
            for (id, window) in state.demand {
                let total = window.total(at: now)
                if total.isZero { state.demand[id] = nil } else { out[id] = total }
            }
            return out
        }
    }

    package init() {}

    /// Takes one request and checks the token allowance; on refusal takes nothing.
    package func admit(_ key: VirtualKey, now: Date) -> Result<Snapshot, GatewayError> {
        state.withLock { state in
            var entry = Self.current(state.buckets[key.id], id: key.id, for: key.policy, state: state, now: now)
            defer { state.buckets[key.id] = entry }
            if entry.requests != nil || entry.tokens != nil { state.demand[key.id, default: DemandWindow()].add(requests: 1, at: now) }
            if var tokens = entry.tokens, !tokens.isAvailable(now: now) {
                entry.tokens = tokens
                return .failure(.rateLimited(.tokens, retryAfter: tokens.secondsUntilAvailable(now: now)))
            }
            if var requests = entry.requests {
                guard requests.take(now: now) else {
                    entry.requests = requests
                    return .failure(.rateLimited(.requests, retryAfter: requests.secondsUntilAvailable(now: now)))
                }
                entry.requests = requests
            }
            return .success(Self.snapshot(entry, now: now))
        }
    }

    /// Charges a finished call's tokens.
    package func charge(_ key: VirtualKey, tokens: Int, now: Date) {
        guard key.policy.tokensPerMinute != nil, tokens > 0 else { return }
        state.withLock { state in
            var entry = Self.current(state.buckets[key.id], id: key.id, for: key.policy, state: state, now: now)
            entry.tokens?.charge(Double(tokens), now: now)
            state.buckets[key.id] = entry
            state.demand[key.id, default: DemandWindow()].add(tokens: tokens, at: now)
        }
    }

    /// The key's limits as they stand, for a response that refuses it.
    package func snapshot(_ key: VirtualKey, now: Date) -> Snapshot {
        state.withLock { state in
            Self.snapshot(Self.current(state.buckets[key.id], id: key.id, for: key.policy, state: state, now: now), now: now)
        }
    }

    /// This instance's shares of a key's limits, from the demand here and elsewhere.
    private static func shares(
        id: String, requestsPerMinute: Int?, tokensPerMinute: Int?, state: State, now: Date
    ) -> (requests: Int?, tokens: Int?) {
        // Cut off, this instance's share is its floor: the share it would have with no demand here.
        let here = state.isCutOff ? RateDemand() : state.demand[id]?.total(at: now) ?? RateDemand()
        let elsewhere = state.isCutOff ? RateDemand(requests: 1, tokens: 1) : state.elsewhere[id] ?? RateDemand()
        return (
            requestsPerMinute.map {
                RateShare.share(of: $0, instances: state.instances, here: here.requests, elsewhere: elsewhere.requests)
            },
            tokensPerMinute.map { RateShare.share(of: $0, instances: state.instances, here: here.tokens, elsewhere: elsewhere.tokens) }
        )
    }

    /// The key's buckets for its current limits: new ones when the limits changed (or on its first call).
    private static func current(_ existing: Buckets?, id: String, for policy: KeyPolicy, state: State, now: Date) -> Buckets {
        if let existing, existing.requestsPerMinute == policy.requestsPerMinute, existing.tokensPerMinute == policy.tokensPerMinute {
            return existing
        }
        let shares = shares(
            id: id, requestsPerMinute: policy.requestsPerMinute, tokensPerMinute: policy.tokensPerMinute, state: state, now: now)
        return Buckets(
            requestsPerMinute: policy.requestsPerMinute, tokensPerMinute: policy.tokensPerMinute,
            requests: shares.requests.map { TokenBucket(perMinute: $0, now: now) },
            tokens: shares.tokens.map { TokenBucket(perMinute: $0, now: now) })
    }

    /// The key's buckets resized to its shares as they stand.
    private static func resized(_ entry: Buckets, id: String, state: State, now: Date) -> Buckets {
        var entry = entry
        let shares = shares(
            id: id, requestsPerMinute: entry.requestsPerMinute, tokensPerMinute: entry.tokensPerMinute, state: state, now: now)
        if let share = shares.requests, let bucket = entry.requests, Int(bucket.capacity) != share {
            entry.requests = bucket.resized(to: share, now: now)
        }
        if let share = shares.tokens, let bucket = entry.tokens, Int(bucket.capacity) != share {
            entry.tokens = bucket.resized(to: share, now: now)
        }
        return entry
    }

    private static func snapshot(_ entry: Buckets, now: Date) -> Snapshot {
        Snapshot(
            requests: entry.requests.map { (Int($0.capacity), $0.remaining(now: now), $0.secondsUntilFull(now: now)) },
            tokens: entry.tokens.map { (Int($0.capacity), $0.remaining(now: now), $0.secondsUntilFull(now: now)) })
    }
}
