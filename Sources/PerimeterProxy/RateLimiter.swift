import Foundation
import HTTPTypes
import PerimeterCore
import Synchronization

/// Per-key request and token buckets, in memory. A bucket is created on a key's first call and
/// rebuilt when the key's limits change.
///
/// Instances sharing a database each hold an equal share of every key's per-minute limits (set by
/// ``setInstances(_:)`` from the live instances the database knows), so together they admit at most
/// the key's limit: a client spread evenly over the instances, as a load balancer spreads it, gets
/// the whole limit, and one held to a single instance gets that instance's share.
package final class RateLimiter: Sendable {
    struct Buckets: Sendable {
        var requestsPerMinute: Int?
        var tokensPerMinute: Int?
        var instances: Int
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

    private let buckets = Mutex<[String: Buckets]>([:])
    private let instances = Atomic<Int>(1)

    /// How many instances share each key's limits; each holds `limit / count` (at least 1) a minute.
    package func setInstances(_ count: Int) {
        instances.store(max(1, count), ordering: .relaxed)
    }

    /// This instance's share of a per-minute limit.
    static func share(of limit: Int, instances: Int) -> Int { max(1, limit / max(1, instances)) }

    package init() {}

    /// Takes one request and checks the token allowance; on refusal takes nothing.
    package func admit(_ key: VirtualKey, now: Date) -> Result<Snapshot, GatewayError> {
        buckets.withLock { all in
            var entry = current(all[key.id], for: key.policy, now: now)
            defer { all[key.id] = entry }
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
        buckets.withLock { all in
            var entry = current(all[key.id], for: key.policy, now: now)
            entry.tokens?.charge(Double(tokens), now: now)
            all[key.id] = entry
        }
    }

    /// The key's limits as they stand, for a response that refuses it.
    package func snapshot(_ key: VirtualKey, now: Date) -> Snapshot {
        buckets.withLock { all in Self.snapshot(current(all[key.id], for: key.policy, now: now), now: now) }
    }

    private func current(_ existing: Buckets?, for policy: KeyPolicy, now: Date) -> Buckets {
        let count = instances.load(ordering: .relaxed)
        if let existing, existing.requestsPerMinute == policy.requestsPerMinute, existing.tokensPerMinute == policy.tokensPerMinute,
            existing.instances == count
        {
            return existing
        }
        return Buckets(
            requestsPerMinute: policy.requestsPerMinute, tokensPerMinute: policy.tokensPerMinute, instances: count,
            requests: policy.requestsPerMinute.map { TokenBucket(perMinute: Self.share(of: $0, instances: count), now: now) },
            tokens: policy.tokensPerMinute.map { TokenBucket(perMinute: Self.share(of: $0, instances: count), now: now) })
    }

    private static func snapshot(_ entry: Buckets, now: Date) -> Snapshot {
        Snapshot(
            requests: entry.requests.map { (Int($0.capacity), $0.remaining(now: now), $0.secondsUntilFull(now: now)) },
            tokens: entry.tokens.map { (Int($0.capacity), $0.remaining(now: now), $0.secondsUntilFull(now: now)) })
    }
}
