import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PerimeterCore

/// The one way a failed request becomes an answer: any error to a ``GatewayError``, then rendered in
/// the JSON shape of the request's route family. The proxy's own catch and the outermost middleware
/// both come here, so a client of one family never sees another family's error shape.
extension GatewayError {
    /// `error` as the client should see it. Errors the gateway did not expect are logged with the
    /// request id and shown only as that id.
    package init(_ error: any Error, request: Request, context: GatewayContext) {
        switch error {
        case let error as GatewayError:
            self = error
        case let error as HTTPError where error.status == .notFound:
            self = .notFound("No route for \(request.method) \(request.uri.path) on this gateway.")
        case let error as HTTPError where error.status == .methodNotAllowed:
            self = .notFound("\(request.method) is not supported on \(request.uri.path).")
        case let error as HTTPError where error.status.code < 500:
            self = .invalidRequest(error.body ?? error.status.reasonPhrase)
        default:
            context.logger.error("unhandled error", metadata: ["error": "\(error)"])
            self = .internalError("see the gateway log for request \(context.requestID)")
        }
    }

    /// This error as a JSON response in `format`.
    package func response(format: ErrorFormat) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if case .bedrock = format { headers[HTTPField.Name("x-amzn-errortype")!] = bedrockType }
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: format.body(for: self))))
    }
}
