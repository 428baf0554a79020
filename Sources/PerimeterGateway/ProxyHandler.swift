import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PerimeterCore
import PerimeterProviders
import PerimeterSecrets

/// The path of one client call: authenticate, inspect, route, forward, stream back while metering,
/// and queue the call record. Nothing here touches the database.
package struct ProxyHandler: Sendable {
    let authenticator: Authenticator
    let directory: ProviderDirectory
    let secrets: SecretResolver
    let prices: PriceTable
    let callLog: CallLogWriter
    let maximumBodySize: Int

    package init(
        authenticator: Authenticator, directory: ProviderDirectory, secrets: SecretResolver, prices: PriceTable,
        callLog: CallLogWriter, maximumBodySize: Int
    ) {
        self.authenticator = authenticator
        self.directory = directory
        self.secrets = secrets
        self.prices = prices
        self.callLog = callLog
        self.maximumBodySize = maximumBodySize
    }

    package func handle(_ request: Request, context: GatewayContext, endpoint: Endpoint, pathModel: String? = nil) async -> Response {
        let started = ContinuousClock.now
        var record = CallRecord(
            id: context.requestID, time: Timestamp.now(), clientIP: context.clientIP, operation: endpoint.operation,
            status: 0, outcome: .denied)
        do {
            let authentication = authenticator.authenticate(Self.presentedKey(request.headers))
            if let key = (try? authentication.get()) ?? authentication.failureKey {
                record.keyID = key.id
                record.keyName = key.name
                record.env = key.env
                record.owner = key.owner
            }
            if case .failure(let failure) = authentication { throw failure.error }

            var body: [UInt8] = []
            var facts = RequestFacts(model: pathModel)
            var members: [String: JSONScanner.Member] = [:]
            if endpoint.hasBody {
                body = try await collectBody(request)
                (facts, members) = try RequestInspector.inspect(body)
                guard let model = facts.model, !model.isEmpty else { throw GatewayError.missingModel }
            }
            record.model = facts.model
            record.stream = facts.isStream

            guard let provider = directory.provider(kind: endpoint.kind, model: facts.model) else {
                throw GatewayError.modelNotFound(facts.model ?? "")
            }
            record.provider = provider.name
            let credential = try await credential(for: provider)

            // A streamed chat call reports usage only when asked; ask for it, and hide the extra chunk.
            let removesUsageChunk = endpoint.operation == .chat && facts.isStream && !facts.includesUsage
            if removesUsageChunk {
                body = RequestInspector.requestingStreamUsage(body, members: members)
                facts.includesUsage = true
            }

            var target = provider.baseURL + endpoint.upstreamPath(for: request.uri.path)
            if let query = request.uri.query, !query.isEmpty { target += "?" + query }
            let upstreamRequest = UpstreamRequest(
                method: request.method, url: target,
                headers: UpstreamHeaders.outbound(
                    from: request.headers, kind: provider.kind, credential: credential, hasBody: endpoint.hasBody),
                body: endpoint.hasBody ? ByteBuffer(bytes: body) : nil, operation: endpoint.operation, facts: facts)
            let response: UpstreamResponse
            do {
                response = try await provider.upstream.send(upstreamRequest)
            } catch {
                switch error {
                case .timeout: throw GatewayError.upstreamTimeout(provider: provider.name)
                case .unreachable(let reason):
                    context.logger.warning(
                        "upstream unreachable", metadata: ["perimeter.provider": "\(provider.name)", "error": "\(reason)"])
                    throw GatewayError.upstreamUnreachable(provider: provider.name)
                }
            }
            record.status = response.status
            if response.status >= 400 {
                return await relayError(response, credential: credential, record: record, started: started)
            }
            return relay(
                response,
                meter: UsageMeter(
                    format: endpoint.usageFormat, isStream: Self.isEventStream(response.headers), removesUsageChunk: removesUsageChunk),
                record: record, started: started)
        } catch {
            let gatewayError = Self.gatewayError(error)
            record.status = gatewayError.status
            record.errorCode = gatewayError.code
            record.outcome = gatewayError.status >= 500 ? .upstreamError : .denied
            finish(&record, started: started)
            return Self.errorResponse(gatewayError, format: endpoint.errorFormat)
        }
    }

    // MARK: Steps

    private func collectBody(_ request: Request) async throws -> [UInt8] {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maximumBodySize {
            throw GatewayError.bodyTooLarge(limit: maximumBodySize)
        }
        do {
            let buffer = try await request.body.collect(upTo: maximumBodySize)
            return Array(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            throw GatewayError.bodyTooLarge(limit: maximumBodySize)
        }
    }

    private func credential(for provider: ProviderRoute) async throws -> Secret? {
        guard let reference = provider.credential else { return nil }
        do {
            return try await secrets.secret(for: reference)
        } catch {
            throw GatewayError.secretUnavailable(provider: provider.name)
        }
    }

    /// Streams a successful answer to the client, metering it on the way, and records the call when
    /// the last byte has gone out (or the stream broke).
    private func relay(_ response: UpstreamResponse, meter: UsageMeter, record: CallRecord, started: ContinuousClock.Instant) -> Response {
        let headers = UpstreamHeaders.inbound(from: response.headers, bodyChanges: meter.removesUsageChunk)
        let contentLength = meter.removesUsageChunk ? nil : response.headers[.contentLength].flatMap(Int.init)
        let body = ResponseBody(contentLength: contentLength) { writer in
            var meter = meter
            var record = record
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
            record.usage = meter.usage
            record.outcome =
                clientLeft ? .clientCancelled : upstreamBroke || (meter.isStream && !meter.isComplete) ? .streamCut : .ok
            record.cost = cost(of: meter.usage, model: record.model)
            if record.outcome == .streamCut { record.errorCode = "stream_cut" }
            finish(&record, started: started)
            if upstreamBroke {
                // Break the client's connection too, so its SDK reports the failure instead of a short answer.
                throw StreamCut()
            }
            if !clientLeft { try await writer.finish(nil) }
        }
        return Response(status: .init(code: response.status), headers: headers, body: body)
    }

    /// Passes an upstream error through with its status and body, with the provider key redacted.
    private func relayError(
        _ response: UpstreamResponse, credential: Secret?, record: CallRecord, started: ContinuousClock.Instant
    ) async -> Response {
        var record = record
        var body: [UInt8] = []
        do {
            for try await chunk in response.body {
                body.append(contentsOf: chunk.readableBytesView)
                if body.count > 1 << 20 { break }
            }
        } catch {
            // Keep what arrived; the status already says the call failed.
        }
        if let credential { body = Redaction.redact(credential, in: body) }
        record.outcome = .upstreamError
        record.errorCode = Redaction.upstreamErrorCode(body) ?? "upstream_\(response.status)"
        finish(&record, started: started)
        return Response(
            status: .init(code: response.status), headers: UpstreamHeaders.inbound(from: response.headers, bodyChanges: true),
            body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    private func cost(of usage: Usage, model: String?) -> Money? {
        guard usage.totalTokens > 0 else { return .zero }
        guard let model else { return nil }
        return prices.cost(of: usage, model: model)
    }

    private func finish(_ record: inout CallRecord, started: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - started
        record.latencyMS = Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
        callLog.record(record)
    }

    // MARK: Helpers

    struct StreamCut: Error {}

    /// The virtual key from `Authorization: Bearer` (OpenAI SDKs) or `x-api-key` (Anthropic SDKs).
    static func presentedKey(_ headers: HTTPFields) -> String? {
        if let authorization = headers[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                return parts[1].trimmingCharacters(in: .whitespaces)
            }
        }
        return headers[HTTPField.Name("x-api-key")!]
    }

    static func isEventStream(_ headers: HTTPFields) -> Bool {
        headers[.contentType]?.lowercased().hasPrefix("text/event-stream") ?? false
    }

    static func gatewayError(_ error: any Error) -> GatewayError {
        switch error {
        case let error as GatewayError: error
        default: .internalError(String(describing: type(of: error)))
        }
    }

    static func errorResponse(_ error: GatewayError, format: ErrorFormat) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(
            status: .init(code: error.status), headers: headers,
            body: .init(byteBuffer: ByteBuffer(bytes: format.body(for: error))))
    }
}

extension Result where Failure == Authenticator.Failure {
    fileprivate var failureKey: VirtualKey? {
        if case .failure(let failure) = self { return failure.key }
        return nil
    }
}
