import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PerimeterCore
import PerimeterProviders
import PerimeterSecrets
import PerimeterStorage

/// The path of one client call: authenticate, inspect, decide (policy, rate, budget), forward, stream
/// back while metering, settle, and queue the call record. Nothing here touches the database.
package struct ProxyHandler: Sendable {
    let authenticator: Authenticator
    let directory: ProviderDirectory
    let secrets: SecretResolver
    let prices: PriceTable
    let callLog: CallLogWriter
    let budgets: BudgetBook
    let rateLimiter: RateLimiter
    let unknownKeys: UnknownKeyGuard
    let clientAddress: ClientAddress
    let maximumBodySize: Int
    /// How long a stream whose client left is read on for the provider's usage; `nil`: not at all.
    let drainTimeout: Duration?
    let alerts: (any CallWatcher)?
    let metrics: GatewayMetrics?

    package init(
        authenticator: Authenticator, directory: ProviderDirectory, secrets: SecretResolver, prices: PriceTable,
        callLog: CallLogWriter, budgets: BudgetBook, rateLimiter: RateLimiter, unknownKeys: UnknownKeyGuard,
        clientAddress: ClientAddress, maximumBodySize: Int, drainTimeout: Duration? = nil, alerts: (any CallWatcher)? = nil,
        metrics: GatewayMetrics? = nil
    ) {
        self.drainTimeout = drainTimeout
        self.alerts = alerts
        self.metrics = metrics
        self.authenticator = authenticator
        self.directory = directory
        self.secrets = secrets
        self.prices = prices
        self.callLog = callLog
        self.budgets = budgets
        self.rateLimiter = rateLimiter
        self.unknownKeys = unknownKeys
        self.clientAddress = clientAddress
        self.maximumBodySize = maximumBodySize
    }

    /// What one call has accumulated on its way through: its record, its key, and what it holds.
    struct Call: Sendable {
        var record: CallRecord
        let started: ContinuousClock.Instant
        var key: VirtualKey?
        var holdsReservation = false
        /// The worst case reserved, and its cost: what the call's `in_flight` row carries, so a crash
        /// while it is under way charges it rather than freeing it.
        var reserved: (usage: Usage, cost: Money)?
        var rateLimits: RateLimiter.Snapshot?
        /// When the call was sent upstream, and how long the provider took to answer with its head.
        var sentUpstream: ContinuousClock.Instant?
        var upstreamLatency: Duration?
        /// The most input tokens the request can be billed for: what a call that ends without the
        /// provider's usage is charged for its input.
        var inputCeiling = 0
    }

    package func handle(_ request: Request, context: GatewayContext, endpoint: Endpoint, pathModel: String? = nil) async -> Response {
        let now = Timestamp.now()
        let clientIP = clientAddress.resolve(socket: context.clientIP, headers: request.headers)
        var call = Call(
            record: CallRecord(
                id: context.requestID, time: now, clientIP: clientIP, operation: endpoint.operation, status: 0, outcome: .denied),
            started: .now)
        call.record.userAgent = request.headers[.userAgent]
        do {
            return try await serve(request, context: context, endpoint: endpoint, pathModel: pathModel, now: now, call: &call)
        } catch {
            return await refuse(error, request: request, context: context, endpoint: endpoint, now: now, call: call)
        }
    }

    /// Authenticate, inspect, admit, route, forward, answer: every step that can refuse the call throws.
    private func serve(
        _ request: Request, context: GatewayContext, endpoint: Endpoint, pathModel: String?, now: Date, call: inout Call
    ) async throws -> Response {
        let key = try authenticate(request, endpoint: endpoint, into: &call)
        var pathModel = pathModel
        // Bedrock takes ARNs: a foundation model's or a cross-region profile's is its plain id; an
        // account's own resource keeps its ARN (percent-encoded upstream), served only where a provider
        // lists it (see ``ProviderDirectory``).
        if endpoint.kind == .bedrock, let arn = pathModel.flatMap(BedrockARN.init) {
            pathModel = arn.modelID ?? pathModel
        } else if let pathModel, !Self.isPlainModelName(pathModel) {
            // A model named in the path goes upstream in the path: only a plain name may, so no client can
            // reach another of the provider's endpoints (its files, say) with the provider's key.
            throw GatewayError.invalidRequest("'\(pathModel.prefix(200))' is not a model name.")
        }
        // A call that could not be recorded is not served.
        if callLog.isBacklogFull { throw GatewayError.callLogUnavailable }

        var body: [UInt8] = []
        var facts = RequestFacts(model: pathModel)
        var members: [String: JSONScanner.Member] = [:]
        if endpoint.hasBody {
            body = try await collectBody(request)
            (facts, members) = try RequestInspector.inspect(body, kind: endpoint.kind, model: pathModel, operation: endpoint.operation)
            // Bedrock options set in headers that are billed beyond tokens.
            if endpoint.kind == .bedrock { facts.perUseFeatures += BedrockRoute.perUseFeatures(request.headers) }
            // Gemini and Bedrock name the model in the path, and the route says whether it streams.
            if endpoint.kind == .gemini || endpoint.kind == .bedrock { facts.model = pathModel }
            // Azure's shape names a deployment (in the path, or as the body's model on /openai/v1): the model is what it serves.
            if endpoint.isAzureRoute {
                let deployment = pathModel ?? facts.model ?? ""
                facts.model = directory.azureModel(forDeployment: deployment) ?? deployment
            }
            if endpoint.isStreamRoute { facts.isStream = true }
            guard let model = facts.model, !model.isEmpty else { throw GatewayError.missingModel }
        }
        call.record.model = facts.model
        call.record.stream = facts.isStream
        call.inputCeiling = facts.inputTokenCeiling

        try await admit(
            key, facts: facts, bodySize: body.count, endpoint: endpoint, clientIP: call.record.clientIP, now: now, into: &call)

        guard
            let provider = try directory.provider(
                kind: endpoint.kind, model: facts.model, allows: key.policy.allowsProvider, azureOnly: endpoint.isAzureRoute)
        else {
            throw GatewayError.modelNotFound(facts.model ?? "")
        }
        call.record.provider = provider.name
        if endpoint.operation == .models, pathModel == nil, endpoint.kind != .gemini {
            // The list is every provider's of this wire format that the key may use, not the first's alone.
            let all = directory.providers(kind: endpoint.kind, allows: key.policy.allowsProvider)
            if all.count > 1 || provider.azure != nil {
                return await mergedModelList(
                    of: all, request: request, endpoint: endpoint, policy: key.policy, call: call, logger: context.logger)
            }
        }
        let credential = try await credential(for: provider, logger: context.logger)

        // A streamed chat call reports usage only when asked; ask for it, and hide the extra chunk (of a
        // provider that cannot be asked, the call is charged by estimate).
        let removesUsageChunk = endpoint.operation == .chat && facts.isStream && !facts.includesUsage && provider.streamUsage
        if removesUsageChunk {
            body = RequestInspector.requestingStreamUsage(body, members: members)
            facts.includesUsage = true
        }

        var target: String
        if let azure = provider.azure {
            // Azure's deployment and API version come from the configuration, never from the client.
            guard let path = azure.path(for: endpoint.operation, model: facts.model) else {
                throw GatewayError.modelNotFound(facts.model ?? "")
            }
            // Under /openai/v1 Azure reads the body's model as a deployment name.
            if endpoint.operation == .responses, let model = facts.model, let deployment = azure.deployments[model], deployment != model {
                body = RequestInspector.replacingModel(body, members: members, with: deployment)
            }
            target = provider.baseURL + path
        } else if endpoint.kind == .bedrock {
            // Built from the checked model id, never the client's path; Bedrock takes no query.
            target = provider.baseURL + BedrockRoute.upstreamPath(model: facts.model ?? "", action: endpoint.bedrockAction)
        } else if provider.kind == .bedrock {
            // An Anthropic client's Messages call, served by Claude on Bedrock.
            (target, body) = try anthropicOnBedrock(body, facts: facts, endpoint: endpoint, provider: provider, headers: request.headers)
        } else {
            target = provider.baseURL + endpoint.upstreamPath(for: request.uri.path)
            // A Gemini client may send its virtual key as `?key=`: it never goes upstream.
            let query = endpoint.kind == .gemini ? try GeminiRoute.forwardedQuery(request.uri.query) : request.uri.query
            if let query, !query.isEmpty { target += "?" + query }
        }
        var headers = UpstreamHeaders.outbound(
            from: request.headers, kind: provider.kind, credential: credential, hasBody: endpoint.hasBody,
            azure: provider.azure != nil && provider.bearer == nil)
        if let aws = provider.aws {
            headers = try await signed(headers, method: request.method, url: target, body: body, with: aws, provider: provider)
        }
        let upstreamRequest = UpstreamRequest(
            method: request.method, url: target, headers: headers,
            body: endpoint.hasBody ? ByteBuffer(bytes: body) : nil, operation: endpoint.operation, facts: facts)
        let response = try await forward(upstreamRequest, to: provider, context: context, call: &call)

        call.record.status = response.status
        if response.status >= 400 {
            return await relayError(
                response, credential: credential, call: call, provider: provider,
                anthropicOnBedrock: provider.kind != endpoint.kind && provider.kind == .bedrock)
        }
        if endpoint.operation == .models, pathModel == nil, !key.policy.allowedModels.isEmpty {
            return await relayModelList(response, policy: key.policy, call: call)
        }
        let isEventStream = Self.isEventStream(response.headers)
        // Gemini's stream without `alt=sse` is one JSON array, sent element by element.
        let isArrayStream = endpoint.kind == .gemini && facts.isStream && !isEventStream
        // Bedrock streams in AWS's binary event stream.
        let isBinaryStream = provider.kind == .bedrock && BedrockRoute.isEventStream(response.headers)
        // An Anthropic client's stream from Bedrock is metered as InvokeModel's and passed on as Anthropic's.
        let translates = isBinaryStream && endpoint.kind == .anthropic
        var meter = UsageMeter(
            format: translates ? .bedrockInvoke : endpoint.usageFormat, isStream: isEventStream, removesUsageChunk: removesUsageChunk,
            isArrayStream: isArrayStream, isBinaryStream: isBinaryStream, translatesToServerSentEvents: translates)
        if provider.kind == .bedrock { meter.headerUsage = BedrockRoute.headerUsage(response.headers) }
        if !isEventStream, !isArrayStream, !isBinaryStream, let length = response.headers[.contentLength].flatMap(Int.init),
            length <= Self.wholeBodyLimit
        {
            return await relayWhole(
                response, length: length, meter: meter, call: call, provider: provider.name, format: endpoint.errorFormat)
        }
        return relay(response, meter: meter, call: call)
    }

    /// Sends the call to its provider and waits for the answer's head.
    private func forward(
        _ upstreamRequest: UpstreamRequest, to provider: ProviderRoute, context: GatewayContext, call: inout Call
    ) async throws -> UpstreamResponse {
        // A budgeted call's placeholder row (its reserved worst case) is committed while the request is on
        // its way, and the answer's head waits for that commit: the commit overlaps the provider's time to
        // first byte instead of adding to it, and no client sees an answer whose reservation a crash could
        // free. The final row replaces the placeholder.
        let placeholder = call.reserved.map { reserved in
            var record = call.record
            record.outcome = .inFlight
            record.usage = reserved.usage
            record.usageSource = .reserved
            record.cost = reserved.cost
            return record
        }
        call.sentUpstream = .now
        do {
            // The client leaving does not cancel this wait yet (the upstream client does stop a cancelled
            // call at once): Hummingbird's only signal for it, RequestBody.consumeWithCancellationOnInboundClose,
            // ends the client's keep-alive connection after every response.
            guard let placeholder else {
                let response = try await provider.upstream.send(upstreamRequest)
                call.upstreamLatency = call.sentUpstream.map { .now - $0 }
                return response
            }
            // Only a budgeted call pays for the concurrent commit.
            async let committed: Void = callLog.recordDurably(placeholder)
            let response = try await provider.upstream.send(upstreamRequest)
            call.upstreamLatency = call.sentUpstream.map { .now - $0 }
            await committed
            return response
        } catch {
            switch error {
            case .timeout: throw GatewayError.upstreamTimeout(provider: provider.name)
            case .unreachable(let reason):
                context.logger.warning(
                    "upstream unreachable", metadata: ["perimeter.provider": "\(provider.name)", "error": "\(reason)"])
                throw GatewayError.upstreamUnreachable(provider: provider.name)
            }
        }
    }

    /// Records a refused or failed call and answers it in the route family's error shape.
    private func refuse(
        _ error: any Error, request: Request, context: GatewayContext, endpoint: Endpoint, now: Date, call: Call
    ) async -> Response {
        var call = call
        let gatewayError = GatewayError(error, request: request, context: context)
        call.record.status = gatewayError.status
        call.record.errorCode = gatewayError.code
        call.record.outcome = gatewayError.status >= 500 ? .upstreamError : .denied
        await finish(call)
        // An address guessing keys gets its answers slowly.
        if gatewayError == .invalidKey, call.record.keyID == nil {
            unknownKeys.recordUnknownKey(from: call.record.clientIP, at: now)
            if unknownKeys.isSlowed(call.record.clientIP, at: now) { try? await Task.sleep(for: .seconds(1)) }
        }
        var response = gatewayError.response(format: endpoint.errorFormat)
        call.rateLimits?.apply(to: &response.headers)
        if case .rateLimited(_, let retryAfter) = gatewayError {
            // Bounded before the conversion: a wait is a few minutes at most, and NaN is never one.
            let seconds = retryAfter.isNaN ? 1 : Swift.min(Swift.max(retryAfter, 1), 86400)
            response.headers[.retryAfter] = String(Int(seconds.rounded(.up)))
        }
        return response
    }

    // MARK: Steps

    /// The active key for the call's credential; a known but refused key is still written on the record.
    private func authenticate(_ request: Request, endpoint: Endpoint, into call: inout Call) throws -> VirtualKey {
        var presented = Self.presentedKey(request.headers)
        if endpoint.kind == .gemini {
            presented = presented ?? request.headers[HTTPField.Name("x-goog-api-key")!] ?? GeminiRoute.queryKey(request.uri.query)
        }
        let authentication = authenticator.authenticate(presented)
        let known: (key: VirtualKey, generation: Int?)?
        switch authentication {
        case .success(let success): known = (success.key, success.generation)
        case .failure(let failure): known = failure.key.map { ($0, failure.generation) }
        }
        if let (key, generation) = known {
            call.record.keyID = key.id
            call.record.keyName = key.name
            call.record.keyGeneration = generation
            call.record.env = key.env
            call.record.owner = key.owner
        }
        switch authentication {
        case .success(let success):
            call.key = success.key
            return success.key
        case .failure(let failure):
            throw failure.error
        }
    }

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

    func credential(for provider: ProviderRoute, logger: Logger) async throws -> Secret? {
        if let bearer = provider.bearer {
            do {
                return try await bearer.token()
            } catch {
                logger.error(
                    "no token for the provider", metadata: ["perimeter.provider": "\(provider.name)", "error": "\(error)"])
                throw GatewayError.secretUnavailable(provider: provider.name)
            }
        }
        guard let reference = provider.credential else { return nil }
        do {
            return try await secrets.secret(for: reference)
        } catch {
            throw GatewayError.secretUnavailable(provider: provider.name)
        }
    }

    // MARK: Helpers

    /// The virtual key from `Authorization: Bearer` (OpenAI SDKs), `x-api-key` (Anthropic SDKs) or
    /// `api-key` (the AzureOpenAI client).
    static func presentedKey(_ headers: HTTPFields) -> String? {
        if let token = headers[.authorization].flatMap(BearerToken.parse) { return token }
        return headers[HTTPField.Name("x-api-key")!] ?? headers[HTTPField.Name("api-key")!]
    }

    /// Letters, digits, '.', '_', ':' and '-', starting with a letter or digit, at most 200 (fine-tuned
    /// OpenAI models are `ft:gpt-4o:org::id`).
    static func isPlainModelName(_ text: String) -> Bool {
        PlainName.isValid(text, punctuation: "-._:", maxLength: 200)
    }

    static func isEventStream(_ headers: HTTPFields) -> Bool {
        headers[.contentType]?.lowercased().hasPrefix("text/event-stream") ?? false
    }

}
