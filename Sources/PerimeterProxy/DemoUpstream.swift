import HTTPTypes
import NIOCore
import PerimeterProviders
import PerimeterUpstream

/// The simulated provider of `perimeter serve --demo`, answering in process in either wire format.
package struct DemoUpstream: Upstream {
    let kind: ProviderKind

    package init(kind: ProviderKind) {
        self.kind = kind
    }

    package func send(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse {
        let body = request.body.map { Array($0.readableBytesView) } ?? []
        let answer = DemoProvider.respond(to: request.operation, kind: kind, facts: request.facts, body: body)
        var headers = HTTPFields()
        headers[.contentType] = answer.contentType
        return UpstreamResponse(
            status: answer.status, headers: headers, body: .buffers(answer.chunks.map { ByteBuffer(bytes: $0) }))
    }
}
