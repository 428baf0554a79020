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
            let format = Endpoint.errorFormat(path: request.uri.path, headers: request.headers)
            response = GatewayError(error, request: request, context: context).response(format: format)
        }
        response.headers[Self.requestIDHeader] = context.requestID
        return response
    }
}
