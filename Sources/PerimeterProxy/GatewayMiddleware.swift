import HTTPTypes
import Hummingbird
import Logging
import PerimeterCore

/// Outermost middleware: renders every error in the route family's JSON shape and stamps every
/// response with `x-perimeter-request-id`.
package struct GatewayMiddleware: RouterMiddleware {
    package init() {}

    package typealias Context = GatewayContext
    static let requestIDHeader = HTTPField.Name("x-perimeter-request-id")!

    package func handle(_ request: Request, context: GatewayContext, next: (Request, GatewayContext) async throws -> Response) async throws
        -> Response
    {
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            let gatewayError: GatewayError
            switch error {
            case let error as GatewayError:
                gatewayError = error
            case let error as HTTPError where error.status == .notFound:
                gatewayError = .notFound("No route for \(request.method) \(request.uri.path) on this gateway.")
            case let error as HTTPError where error.status == .methodNotAllowed:
                gatewayError = .notFound("\(request.method) is not supported on \(request.uri.path).")
            case let error as HTTPError where error.status.code < 500:
                gatewayError = .invalidRequest(error.body ?? error.status.reasonPhrase)
            default:
                context.logger.error("unhandled error", metadata: ["error": "\(error)"])
                gatewayError = .internalError("see the gateway log for request \(context.requestID)")
            }
            let format: ErrorFormat = request.uri.path.hasPrefix("/v1/messages") ? .anthropic : .openAI
            response = ProxyHandler.errorResponse(gatewayError, format: format)
        }
        response.headers[Self.requestIDHeader] = context.requestID
        return response
    }
}
