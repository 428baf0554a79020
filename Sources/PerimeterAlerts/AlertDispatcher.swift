import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PerimeterCore
import PerimeterProxy
import PerimeterSecrets
import PerimeterStorage
import ServiceLifecycle
import Synchronization

/// Delivers alerts from the durable outbox to their channels: a signed JSON webhook or Slack's
/// incoming-webhook payload. A failed delivery is retried with exponential backoff (1 s doubling to a
/// minute) until it succeeds, so an alert raised during a receiver outage arrives once the receiver is
/// back, once per channel.
package final class AlertDispatcher: Service, Sendable {
    private let store: any AlertStore
    private let channels: [String: AlertChannel]
    private let resolver: SecretResolver
    private let client: HTTPClient
    private let logger: Logger
    private let metrics: GatewayMetrics?
    private let signal: AsyncStream<Void>
    private let trigger: AsyncStream<Void>.Continuation
    let failures = Atomic<Int>(0)
    let deliveries = Atomic<Int>(0)

    package init(
        store: any AlertStore, channels: [AlertChannel], resolver: SecretResolver, client: HTTPClient, logger: Logger,
        metrics: GatewayMetrics? = nil
    ) {
        self.metrics = metrics
        self.store = store
        self.channels = Dictionary(channels.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.resolver = resolver
        self.client = client
        self.logger = logger
        (signal, trigger) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Asks for a delivery round now (a new alert is in the outbox).
    func wake() {
        trigger.yield()
    }

    package func run() async throws {
        // One round at start delivers what a previous run left in the outbox.
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in self.signal {
                    await self.deliverDue()
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    self.trigger.yield()
                    try? await Task.sleep(for: .seconds(1))
                }
            }
            try? await gracefulShutdown()
            trigger.finish()
            group.cancelAll()
        }
    }

    private func deliverDue() async {
        let now = Date()
        // Claimed for a minute: longer than a delivery's timeout, so a slow receiver is not sent the
        // alert twice, and short enough that a delivery its claimer died over is retried soon.
        guard let due = try? await store.claimDueDeliveries(at: now, limit: 100, until: now.addingTimeInterval(60)), !due.isEmpty
        else { return }
        await withTaskGroup(of: Void.self) { group in
            for (alert, delivery) in due {
                group.addTask { await self.deliver(alert, delivery) }
            }
        }
    }

    private func deliver(_ alert: Alert, _ delivery: AlertDelivery) async {
        guard let channel = channels[delivery.channel] else {
            try? await store.markFailed(
                alertID: alert.id, channel: delivery.channel, error: "no such channel in the configuration",
                nextAttempt: Date().addingTimeInterval(3600))
            return
        }
        do {
            try await send(alert, to: channel)
            try await store.markDelivered(alertID: alert.id, channel: channel.name, at: Date())
            deliveries.add(1, ordering: .relaxed)
        } catch {
            failures.add(1, ordering: .relaxed)
            metrics?.alertDeliveryFailed(channel: channel.name)
            let delay = min(60, pow(2, Double(delivery.attempts)))
            if delivery.attempts == 0 {
                logger.warning("alert \(alert.id) not delivered to \(channel.name): \(error); retrying with backoff")
            }
            try? await store.markFailed(
                alertID: alert.id, channel: channel.name, error: "\(error)", nextAttempt: Date().addingTimeInterval(delay))
        }
    }

    struct DeliveryFailure: Error, CustomStringConvertible {
        var description: String
    }

    private func send(_ alert: Alert, to channel: AlertChannel) async throws {
        let url: String
        switch channel.target {
        case .url(let text): url = text
        case .reference(let reference): url = try await resolver.secret(for: reference).revealed
        }
        let body: [UInt8]
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "perimeter-alerts/1")
        switch channel.kind {
        case .webhook:
            body = Self.webhookBody(alert)
            request.headers.add(name: "x-perimeter-alert-id", value: alert.id)
            if let reference = channel.secret {
                let key = try await resolver.secret(for: reference)
                request.headers.add(name: "x-perimeter-signature", value: Self.signature(body: body, key: key, time: Date()))
            }
        case .slack:
            body = Self.slackBody(alert)
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, timeout: .seconds(10))
        _ = try? await response.body.collect(upTo: 64 << 10)
        guard (200..<300).contains(response.status.code) else {
            throw DeliveryFailure(description: "the receiver answered \(response.status.code)")
        }
    }

    /// `t=UNIX_TIME,v1=HEX`, the HMAC-SHA256 of `"{t}.{body}"`: a receiver checks it and rejects old `t` (replays).
    static func signature(body: [UInt8], key: Secret, time: Date) -> String {
        let timestamp = String(Int64(time.timeIntervalSince1970))
        let mac = HMAC<SHA256>.authenticationCode(
            for: Array((timestamp + ".").utf8) + body, using: SymmetricKey(data: Array(key.revealed.utf8)))
        return "t=\(timestamp),v1=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    static func webhookBody(_ alert: Alert) -> [UInt8] {
        let object: [String: Any] = [
            "id": alert.id, "type": alert.type.rawValue, "severity": alert.severity.rawValue, "time": Timestamp.format(alert.time),
            "key_id": alert.keyID as Any? ?? NSNull(), "env": alert.env as Any? ?? NSNull(), "message": alert.message,
            "details": alert.details,
        ]
        return [UInt8]((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data())
    }

    static func slackBody(_ alert: Alert) -> [UInt8] {
        let icon =
            switch alert.severity {
            case .critical: ":rotating_light:"
            case .warning: ":warning:"
            case .info: ":information_source:"
            }
        let text = "\(icon) *Perimeter \(alert.severity.rawValue)*: \(alert.message) (`\(alert.type.rawValue)`, \(alert.id))"
        return [UInt8]((try? JSONSerialization.data(withJSONObject: ["text": text], options: [.sortedKeys])) ?? Data())
    }
}
