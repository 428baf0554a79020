import HTTPTypes
import NIOCore
import PerimeterCore
import PerimeterUpstream
import ServiceLifecycle

/// The real upstream: the shared ``UpstreamClient``, bodies streamed both ways.
package struct HTTPUpstream: Upstream {
    let client: UpstreamClient
    let timeout: Duration
    let caFile: String?

    package init(client: UpstreamClient, timeout: Duration, caFile: String? = nil) {
        self.client = client
        self.timeout = timeout
        self.caFile = caFile
    }

    package func send(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse {
        // The deadline covers the wait for the response head; a long stream is bounded by the client's
        // read timeout between chunks instead.
        let start = try await client.send(
            method: request.method, url: request.url, headers: request.headers, body: request.body, headTimeout: timeout,
            caFile: caFile)
        var headers = HTTPFields()
        headers.reserveCapacity(start.head.headers.count)
        for (name, value) in start.head.headers {
            if let fieldName = HTTPField.Name(name) { headers.append(HTTPField(name: fieldName, value: value)) }
        }
        return UpstreamResponse(status: Int(start.head.status.code), headers: headers, body: .stream(start.body))
    }
}

/// Closes the upstream client's pooled connections after the server has drained.
package struct UpstreamClientService: Service {
    let client: UpstreamClient

    package init(client: UpstreamClient) {
        self.client = client
    }

    package func run() async throws {
        try? await gracefulShutdown()
        await client.shutdown()
    }
}
