import HTTPTypes
import Hummingbird
import Logging
import PerimeterCore

/// Outermost middleware: renders every error in the route family's JSON shape and stamps every
/// response with `x-perimeter-request-id`.
package struct GatewayMiddleware: RouterMiddleware {
    let routes: RouteIndex

    package init(routes: RouteIndex) {
        self.routes = routes
    }

    package typealias Context = GatewayContext
    static let requestIDHeader = HTTPField.Name("x-perimeter-request-id")!

    package func handle(_ request: Request, context: GatewayContext, next: (Request, GatewayContext) async throws -> Response) async throws
        -> Response
    {
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            let format = Endpoint.errorFormat(path: request.uri.path, headers: request.headers)
            var gatewayError = GatewayError(error, request: request, context: context)
            if gatewayError.status == 404, case .notFound = gatewayError {
                let allowed = routes.allowedMethods(for: request.uri.path)
                if !allowed.isEmpty, !allowed.contains(request.method.rawValue) {
                    gatewayError = .methodNotAllowed(method: request.method.rawValue, path: request.uri.path, allowed: allowed)
                }
            }
            response = gatewayError.response(format: format)
            if case .methodNotAllowed(_, _, let allowed) = gatewayError {
                response.headers[.allow] = allowed.joined(separator: ", ")
            }
        }
        response.headers[Self.requestIDHeader] = context.requestID
        return response
    }
}
