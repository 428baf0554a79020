import HTTPTypes
import NIOCore
import PerimeterProviders

/// The simulated provider of `perimeter serve --demo`, answering in process in either wire format.
package struct DemoUpstream: Upstream {
    package init() {}

    package func send(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse {
        let body = request.body.map { Array($0.readableBytesView) } ?? []
        let answer = DemoProvider.respond(to: request.operation, facts: request.facts, body: body)
        var headers = HTTPFields()
        headers[.contentType] = answer.contentType
        return UpstreamResponse(
            status: answer.status, headers: headers, body: .buffers(answer.chunks.map { ByteBuffer(bytes: $0) }))
    }
}
