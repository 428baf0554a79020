import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PerimeterCore
import PerimeterProviders
import Synchronization

extension ProxyHandler {
    struct StreamInterrupted: Error {}

    /// A call whose answer is still to be streamed. It makes sure the call is finished exactly once:
    /// by the body writer, or, when the server drops the response without writing its body, here.
    final class PendingCall: Sendable {
        private let call: Mutex<Call?>
        private let handler: ProxyHandler
        /// What the call is charged if its body never runs: the provider has the request and has begun
        /// answering, so its input at least.
        private let abandonedUsage: Usage?

        init(_ call: Call, handler: ProxyHandler, abandonedUsage: Usage?) {
            self.call = Mutex(call)
            self.handler = handler
            self.abandonedUsage = abandonedUsage
        }

        func take() -> Call? {
            call.withLock { $0.take() }
        }

        deinit {
            guard var abandoned = call.withLock({ $0.take() }) else { return }
            abandoned.record.outcome = .clientCancelled
            if let abandonedUsage {
                abandoned.record.usage = abandonedUsage
                abandoned.record.usageSource = .estimated
            }
            let handler = handler
            Task { await handler.finish(abandoned) }
        }
    }

    /// Streams a successful answer to the client, metering it on the way, and records the call when
    /// the last byte has gone out (or the stream broke).
    func relay(_ response: UpstreamResponse, meter: UsageMeter, call: Call) -> Response {
        var headers = UpstreamHeaders.inbound(from: response.headers, bodyChanges: meter.reframesBody)
        if meter.translatesToServerSentEvents { headers[.contentType] = "text/event-stream" }
        call.rateLimits?.apply(to: &headers)
        let contentLength = meter.reframesBody ? nil : response.headers[.contentLength].flatMap(Int.init)
        let pending = PendingCall(
            call, handler: self, abandonedUsage: meter.format == .none ? nil : Usage(inputTokens: call.inputCeiling))
        let body = ResponseBody(contentLength: contentLength) { writer in
            var meter = meter
            // Taken once; if the server never runs this closure (the client left before the head was
            // written), the PendingCall's deinit settles the call instead.
            guard var call = pending.take() else { return }
            var iterator = response.body.makeAsyncIterator()
            var upstreamBroke = false
            var clientLeft = false
            while true {
                let chunk: ByteBuffer?
                do {
                    chunk = try await iterator.next()
                } catch {
                    upstreamBroke = true
                    break
                }
                guard let chunk else { break }
                let outgoing = meter.consume(chunk) ?? chunk
                // A broken event stream: what came before the bad message went out, nothing after it does.
                if meter.isCorrupt {
                    if outgoing.readableBytes > 0 { try? await writer.write(outgoing) }
                    upstreamBroke = true
                    break
                }
                guard outgoing.readableBytes > 0 else { continue }
                do {
                    try await writer.write(outgoing)
                } catch {
                    clientLeft = true
                    break
                }
            }
            if !upstreamBroke, !clientLeft, let rest = meter.finish(), rest.readableBytes > 0 {
                do { try await writer.write(rest) } catch { clientLeft = true }
            }
            if clientLeft, let drainTimeout, meter.isStream, !meter.hasFinalUsage {
                meter = await Self.drain(iterator, meter: meter, for: drainTimeout)
            }
            Self.bill(&call, meter: meter)
            call.record.outcome =
                clientLeft ? .clientCancelled : upstreamBroke || (meter.isStream && !meter.isComplete) ? .streamCut : .ok
            if call.record.outcome == .streamCut { call.record.errorCode = meter.streamException ?? "stream_cut" }
            await finish(call, durable: call.record.outcome == .ok)
            // Break the client's connection when upstream broke, so its SDK reports the failure instead of
            // a short answer; when the client left, there is nothing more to send.
            if upstreamBroke || clientLeft { throw StreamInterrupted() }
            try await writer.finish(nil)
        }
        return Response(status: .init(code: response.status), headers: headers, body: body)
    }

    /// Reads on after the client left, metering and discarding, until the provider's final usage
    /// arrives, the stream ends or breaks, or `timeout` passes (the read is then cancelled, which closes
    /// the upstream connection). Returns the meter, which then has the provider's usage if it came.
    static func drain(_ iterator: UpstreamBody.AsyncIterator, meter: UsageMeter, for timeout: Duration) async -> UsageMeter {
        let box = DrainState(iterator: iterator, meter: meter)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await box.run() }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
        return box.meter
    }

    /// The iterator and meter a drain reads with. Only the drain's child task touches them while it
    /// runs, and ``drain(_:meter:for:)`` reads the meter only after that task has ended.
    final class DrainState: @unchecked Sendable {
        var iterator: UpstreamBody.AsyncIterator
        var meter: UsageMeter

        init(iterator: UpstreamBody.AsyncIterator, meter: UsageMeter) {
            self.iterator = iterator
            self.meter = meter
        }

        func run() async {
            while !Task.isCancelled, !meter.hasFinalUsage {
                guard let chunk = try? await iterator.next() else { break }
                _ = meter.consume(chunk)
            }
            if !Task.isCancelled { _ = meter.finish() }
        }
    }

    /// Upstream answers of at most this many bytes, with a `content-length` and not a stream, are read
    /// whole before they are answered (see ``relayWhole``); anything larger or open-ended is streamed.
    static let wholeBodyLimit = 1 << 20

    /// Answers a small JSON body, whose usage can only be read once it is complete anyway, in one
    /// write: head, body and end leave in one system call instead of three. A body that breaks off
    /// answers 502 rather than a truncated document.
    func relayWhole(
        _ response: UpstreamResponse, length: Int, meter: UsageMeter, call: Call, provider: String, format: ErrorFormat
    ) async -> Response {
        var meter = meter
        var call = call
        var body = ByteBuffer()
        body.reserveCapacity(length)
        do {
            for try await var chunk in response.body {
                _ = meter.consume(chunk)
                body.writeBuffer(&chunk)
            }
        } catch {
            // The provider made the whole answer before sending it: what arrived is charged (see
            // UsageMeter.billableUsage), and the client gets 502 rather than a truncated document.
            let failure = GatewayError.upstreamUnreachable(provider: provider)
            Self.bill(&call, meter: meter)
            call.record.status = failure.status
            call.record.errorCode = failure.code
            call.record.outcome = .upstreamError
            await finish(call)
            var response = failure.response(format: format)
            call.rateLimits?.apply(to: &response.headers)
            return response
        }
        _ = meter.finish()
        Self.bill(&call, meter: meter)
        call.record.outcome = .ok
        await finish(call, durable: true)
        var headers = UpstreamHeaders.inbound(from: response.headers, bodyChanges: false)
        call.rateLimits?.apply(to: &headers)
        return Response(status: .init(code: response.status), headers: headers, body: .init(byteBuffer: body))
    }

    /// Puts on the record what the call is charged for: the provider's usage, or, when the call ended
    /// without it, the meter's estimate (see ``UsageMeter/billableUsage(inputCeiling:)``).
    static func bill(_ call: inout Call, meter: UsageMeter) {
        let (usage, source) = meter.billableUsage(inputCeiling: call.inputCeiling)
        call.record.usage = usage
        call.record.usageSource = meter.format == .none ? nil : source
    }

    /// Passes an upstream error through with its status and body, with the provider key redacted.
    func relayError(
        _ response: UpstreamResponse, credential: Secret?, call: Call, provider: ProviderRoute? = nil, anthropicOnBedrock: Bool = false
    ) async -> Response {
        var call = call
        var body = await collectBody(response.body, limit: 1 << 20)
        if let credential { body = Redaction.redact(credential, in: body) }
        if let provider, provider.kind == .bedrock { body = await redactingAWS(body, provider: provider) }
        // An Anthropic client gets Bedrock's error in Anthropic's shape.
        if anthropicOnBedrock { body = AnthropicOnBedrock.errorBody(body, status: response.status) }
        call.record.outcome = .upstreamError
        // AWS names the error in `x-amzn-ErrorType` (`ThrottlingException:http://...`).
        let awsType = response.headers[HTTPField.Name("x-amzn-errortype")!].flatMap { $0.split(separator: ":").first }.map(String.init)
        call.record.errorCode = Redaction.upstreamErrorCode(body) ?? awsType ?? "upstream_\(response.status)"
        await finish(call)
        var headers = UpstreamHeaders.inbound(from: response.headers, bodyChanges: true)
        call.rateLimits?.apply(to: &headers)
        return Response(status: .init(code: response.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// `GET /v1/models` for a key limited to some models lists only those.
    func relayModelList(_ response: UpstreamResponse, policy: KeyPolicy, call: Call) async -> Response {
        var call = call
        let body = await collectBody(response.body, limit: 8 << 20)
        var filtered = body
        if var object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] {
            // OpenAI and Anthropic list `data[].id`; Gemini lists `models[].name` as `models/{id}`.
            for (member, field) in [("data", "id"), ("models", "name")] {
                guard let entries = object[member] as? [Any] else { continue }
                object[member] = entries.filter { entry in
                    guard let name = (entry as? [String: Any])?[field] as? String else { return false }
                    return policy.allowsModel(name.hasPrefix("models/") ? String(name.dropFirst(7)) : name)
                }
            }
            filtered = Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data())
        }
        call.record.outcome = .ok
        await finish(call)
        var headers = UpstreamHeaders.inbound(from: response.headers, bodyChanges: true)
        call.rateLimits?.apply(to: &headers)
        return Response(status: .init(code: response.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: filtered)))
    }

    /// Prices the call, settles its reservation, charges its tokens, and queues its record. With
    /// `durable`, for a completed answer, it returns once the record is committed, so the answer's last
    /// byte leaves after its record can no longer be lost to a crash.
    func finish(_ call: Call, durable: Bool = false) async {
        var record = call.record
        let elapsed = ContinuousClock.now - call.started
        record.latencyMS = Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
        if record.usage.totalTokens == 0 {
            record.cost = .zero
        } else {
            record.cost = record.model.flatMap { prices.cost(of: record.usage, model: $0) }
        }
        if call.holdsReservation {
            if call.sentUpstream == nil {
                // Refused or failed before anything reached the provider: nothing was consumed.
                await budgets.ledger.release(id: record.id)
            } else {
                await budgets.ledger.settle(id: record.id, actual: record.cost ?? .zero)
            }
        }
        if let key = call.key {
            rateLimiter.charge(key, tokens: record.usage.totalTokens, now: Date())
        }
        if durable { await callLog.recordDurably(record) } else { callLog.record(record) }
        alerts?.observe(record)
        metrics?.record(record, upstream: call.upstreamLatency, overhead: call.sentUpstream.map { $0 - call.started })
    }

    func collectBody(_ body: UpstreamBody, limit: Int) async -> [UInt8] {
        var bytes: [UInt8] = []
        do {
            for try await chunk in body {
                bytes.append(contentsOf: chunk.readableBytesView)
                if bytes.count > limit { break }
            }
        } catch {
            // Keep what arrived; the status already says how the call went.
        }
        return bytes
    }
}
