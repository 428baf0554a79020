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
        // Gemini streams server-sent events only when asked (`alt=sse`); otherwise one JSON array.
        let query = request.url.split(separator: "?", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
        let eventStream = kind != .gemini || query.split(separator: "&").contains("alt=sse")
        let answer = DemoProvider.respond(
            to: request.operation, kind: kind, facts: request.facts, body: body, eventStream: eventStream)
        var headers = HTTPFields()
        headers[.contentType] = answer.contentType
        return UpstreamResponse(
            status: answer.status, headers: headers, body: .buffers(answer.chunks.map { ByteBuffer(bytes: $0) }))
    }
}
