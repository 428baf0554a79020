import Foundation

/// Every way the gateway refuses or fails a call. Each case knows the HTTP status and the stable `code`
/// a client sees; ``ErrorFormat`` renders it in the route family's own JSON shape.
public enum GatewayError: Error, Sendable, Hashable {
    case missingKey
    case invalidKey
    case keyRevoked
    case keyRotated
    case keyExpired(Date)
    case ipNotAllowed
    case operationNotAllowed(CallOperation)
    case modelNotAllowed(String)
    /// The model is served only by providers the key may not use.
    case providerNotAllowed(model: String)
    case toolsNotAllowed(String?)
    case budgetExceeded(BudgetDenial)
    case priceUnknown(String)
    /// A request feature the provider bills per use (hosted web search, image generation, audio), for a
    /// key with a budget.
    case featureUnpriced(String)
    case rateLimited(RateLimitKind, retryAfter: Double)
    case malformedJSON(String)
    case missingModel
    case invalidRequest(String)
    case modelNotFound(String)
    case notFound(String)
    /// The path exists, the method does not: the response carries `Allow` with `allowed`.
    case methodNotAllowed(method: String, path: String, allowed: [String])
    case bodyTooLarge(limit: Int)
    case upstreamUnreachable(provider: String)
    case upstreamTimeout(provider: String)
    case secretUnavailable(provider: String)
    /// The key has a budget and the shared budget store cannot be reached beyond this instance's lease.
    case ledgerUnavailable
    /// The call log cannot be written and its backlog in memory is full: no call is served unlogged.
    case callLogUnavailable
    /// As many admin event streams are open as the gateway serves at once.
    case tooManyStreams(maximum: Int)
    case unauthorizedAdmin
    case forbidden(String)
    case conflict(String)
    case deliveryFailed(String)
    case internalError(String)

    public var status: Int {
        switch self {
        case .missingKey, .invalidKey, .keyRevoked, .keyRotated, .keyExpired, .unauthorizedAdmin: 401
        case .ipNotAllowed, .operationNotAllowed, .modelNotAllowed, .providerNotAllowed, .toolsNotAllowed, .priceUnknown, .featureUnpriced:
            403
        case .budgetExceeded, .rateLimited: 429
        case .malformedJSON, .missingModel, .invalidRequest: 400
        case .modelNotFound, .notFound: 404
        case .methodNotAllowed: 405
        case .forbidden: 403
        case .conflict: 409
        case .bodyTooLarge: 413
        case .upstreamUnreachable, .secretUnavailable, .deliveryFailed: 502
        case .upstreamTimeout: 504
        case .ledgerUnavailable, .callLogUnavailable, .tooManyStreams: 503
        case .internalError: 500
        }
    }

    /// The stable, machine-readable code; also the call log's `error_code`.
    public var code: String {
        switch self {
        case .missingKey, .invalidKey: "invalid_api_key"
        case .keyRevoked: "key_revoked"
        case .keyRotated: "key_rotated"
        case .keyExpired: "key_expired"
        case .ipNotAllowed: "ip_not_allowed"
        case .operationNotAllowed: "operation_not_allowed"
        case .modelNotAllowed: "model_not_allowed"
        case .providerNotAllowed: "provider_not_allowed"
        case .toolsNotAllowed: "tools_not_allowed"
        case .budgetExceeded: "budget_exceeded"
        case .priceUnknown, .featureUnpriced: "price_unknown"
        case .rateLimited: "rate_limited"
        case .malformedJSON: "invalid_json"
        case .missingModel: "missing_model"
        case .invalidRequest: "invalid_request"
        case .modelNotFound: "model_not_found"
        case .notFound: "not_found"
        case .methodNotAllowed: "method_not_allowed"
        case .bodyTooLarge: "request_too_large"
        case .upstreamUnreachable: "upstream_unreachable"
        case .upstreamTimeout: "upstream_timeout"
        case .secretUnavailable: "secret_unavailable"
        case .ledgerUnavailable: "ledger_unavailable"
        case .callLogUnavailable: "call_log_unavailable"
        case .tooManyStreams: "too_many_streams"
        case .unauthorizedAdmin: "unauthorized"
        case .forbidden: "forbidden"
        case .conflict: "conflict"
        case .deliveryFailed: "delivery_failed"
        case .internalError: "internal_error"
        }
    }

    public var message: String {
        switch self {
        case .missingKey:
            "Missing API key. Send your Perimeter key as 'Authorization: Bearer <key>' or 'x-api-key: <key>'."
        case .invalidKey: "Invalid API key. Check that the key was issued by this Perimeter gateway."
        case .keyRevoked: "This API key has been revoked. Ask its owner or your platform team for a new one."
        case .keyRotated:
            "This API key has been rotated and its grace period is over. Use the key's current secret."
        case .keyExpired(let date): "This API key expired at \(Timestamp.format(date)). Ask its owner for a new one."
        case .ipNotAllowed: "This API key may not be used from this address."
        case .operationNotAllowed(let operation): "This API key may not call the '\(operation.rawValue)' operation."
        case .modelNotAllowed(let model): "This API key may not use the model '\(model)'."
        case .providerNotAllowed(let model):
            "This API key may not use any provider that serves the model '\(model)'."
        case .toolsNotAllowed(let name):
            name.map { "This API key may not declare the tool '\($0)'." } ?? "This API key may not declare tools or functions."
        case .budgetExceeded(let denial):
            "Budget exceeded: the \(denial.budget.period.rawValue == "total" ? "total" : denial.budget.period.rawValue + "ly")"
                + " budget of \(denial.scope) is \(denial.budget.limit) and \(denial.committed) is spent or reserved"
                + (denial.resetsAt.map { "; it resets at \(Timestamp.format($0))." } ?? "; it does not reset.")
        case .featureUnpriced(let feature):
            "'\(feature)' is billed per use at a price the gateway does not know, and this key has a budget; use a key without a budget for it, or leave it out."
        case .priceUnknown(let model):
            "The model '\(model)' has no known price, and this key has a budget; an operator must add its price to the gateway's config."
        case .rateLimited(let kind, let retryAfter):
            "Rate limit reached: this key's \(kind.rawValue) per minute are used up; retry in \(RateLimitDuration.format(seconds: retryAfter))."
        case .malformedJSON(let detail): "The request body is not valid JSON: \(detail)."
        case .missingModel: "The request body must name a model in its 'model' field."
        case .invalidRequest(let detail): detail
        case .modelNotFound(let model): "No provider configured on this gateway serves the model '\(model)'."
        case .notFound(let what): what
        case .methodNotAllowed(let method, let path, let allowed):
            "\(method) is not supported on \(path); it answers \(allowed.joined(separator: ", "))."
        case .bodyTooLarge(let limit): "The request body is larger than this gateway's limit of \(limit) bytes."
        case .upstreamUnreachable(let provider): "The upstream provider '\(provider)' could not be reached."
        case .upstreamTimeout(let provider): "The upstream provider '\(provider)' did not answer in time."
        case .secretUnavailable(let provider):
            "The credential for provider '\(provider)' is not available; an operator must fix the gateway's secret."
        case .ledgerUnavailable:
            "This key has a budget and the gateway cannot reach its shared budget store, so it cannot tell whether the call fits; retry shortly."
        case .callLogUnavailable:
            "The gateway cannot write its call log and will not serve calls it cannot record; retry shortly."
        case .tooManyStreams(let maximum):
            "This gateway already serves \(maximum) call streams, its most at once; close one or retry later."
        case .unauthorizedAdmin: "Missing or invalid admin token."
        case .forbidden(let detail): detail
        case .conflict(let detail): detail
        case .deliveryFailed(let detail): detail
        case .internalError(let detail): "Internal gateway error: \(detail)"
        }
    }

    /// The `x-amzn-ErrorType` an AWS SDK reads as the error's code, for this status.
    public var bedrockType: String {
        switch status {
        case 400, 413: "ValidationException"
        case 401: "UnrecognizedClientException"
        case 403: "AccessDeniedException"
        case 404: "ResourceNotFoundException"
        case 409: "ConflictException"
        case 429: "ThrottlingException"
        case 500: "InternalServerException"
        case 504: "ModelTimeoutException"
        default: status >= 500 ? "ServiceUnavailableException" : "ValidationException"
        }
    }

    /// The `error.type` an OpenAI client expects for this status.
    /// The canonical gRPC status name Google's APIs put in an error's `status`.
    public var googleStatus: String {
        switch status {
        case 400: "INVALID_ARGUMENT"
        case 401: "UNAUTHENTICATED"
        case 403: "PERMISSION_DENIED"
        case 404: "NOT_FOUND"
        case 409: "ABORTED"
        case 413: "INVALID_ARGUMENT"
        case 429: "RESOURCE_EXHAUSTED"
        case 503: "UNAVAILABLE"
        case 504: "DEADLINE_EXCEEDED"
        case 500: "INTERNAL"
        default: status >= 500 ? "UNAVAILABLE" : "FAILED_PRECONDITION"
        }
    }

    public var openAIType: String {
        switch status {
        case 401: "invalid_request_error"
        case 429: "rate_limit_error"
        case 403: "permission_error"
        case 400, 404, 405, 409, 413: "invalid_request_error"
        default: "api_error"
        }
    }

    /// The `error.type` an Anthropic client expects for this status.
    public var anthropicType: String {
        switch status {
        case 400, 405, 409: "invalid_request_error"
        case 401: "authentication_error"
        case 403: "permission_error"
        case 404: "not_found_error"
        case 413: "request_too_large"
        case 429: "rate_limit_error"
        default: "api_error"
        }
    }
}

extension GatewayError: CustomStringConvertible {
    public var description: String { "\(code): \(message)" }
}

/// Which per-minute allowance ran out.
public enum RateLimitKind: String, Sendable, Hashable {
    case requests, tokens
}
