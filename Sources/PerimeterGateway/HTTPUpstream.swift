import AsyncHTTPClient
import HTTPTypes
import NIOCore
import NIOHTTP1
import PerimeterCore

/// The real upstream: one shared AsyncHTTPClient with pooled connections, bodies streamed both ways.
package struct HTTPUpstream: Upstream {
    let client: HTTPClient
    let timeout: Duration

    package init(client: HTTPClient, timeout: Duration) {
        self.client = client
        self.timeout = timeout
    }

    package func send(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse {
        var outbound = HTTPClientRequest(url: request.url)
        outbound.method = HTTPMethod(rawValue: request.method.rawValue)
        for field in request.headers {
            outbound.headers.add(name: field.name.rawName, value: field.value)
        }
        if let body = request.body {
            outbound.body = .bytes(body)
        }
        let response: HTTPClientResponse
        do {
            // The deadline covers the wait for the response head only; a long stream is bounded by the
            // client's read timeout between chunks instead.
            response = try await client.execute(outbound, timeout: .nanoseconds(Int64(timeout.nanoseconds)))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            throw .timeout
        } catch {
            throw .unreachable(String(describing: error))
        }
        var headers = HTTPFields()
        for (name, value) in response.headers {
            if let fieldName = HTTPField.Name(name) { headers.append(HTTPField(name: fieldName, value: value)) }
        }
        return UpstreamResponse(status: Int(response.status.code), headers: headers, body: .client(response.body))
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
