import AsyncHTTPClient
import HTTPTypes
import NIOCore
import PerimeterCore
import PerimeterProviders

/// Sends a call to a provider and hands back its answer as a stream of body chunks.
package protocol Upstream: Sendable {
    /// Returns once the response head has arrived. Throws ``UpstreamError`` when upstream cannot be
    /// reached or does not answer in time.
    func send(_ request: UpstreamRequest) async throws(UpstreamError) -> UpstreamResponse
}

package struct UpstreamRequest: Sendable {
    package var method: HTTPRequest.Method
    package var url: String
    package var headers: HTTPFields
    package var body: ByteBuffer?
    /// What the gateway learnt of the call; a simulated upstream answers from it.
    package var operation: CallOperation
    package var facts: RequestFacts
}

package struct UpstreamResponse: Sendable {
    package var status: Int
    package var headers: HTTPFields
    package var body: UpstreamBody
}

package enum UpstreamError: Error, Sendable {
    case unreachable(String)
    case timeout
}

/// A response body: AsyncHTTPClient's stream, or chunks already in memory. An enum rather than an
/// existential so iterating it costs no allocation per chunk.
package struct UpstreamBody: AsyncSequence, Sendable {
    package typealias Element = ByteBuffer

    enum Storage: Sendable {
        case client(HTTPClientResponse.Body)
        case buffers([ByteBuffer])
    }

    let storage: Storage

    package static func client(_ body: HTTPClientResponse.Body) -> UpstreamBody { UpstreamBody(storage: .client(body)) }
    package static func buffers(_ buffers: [ByteBuffer]) -> UpstreamBody { UpstreamBody(storage: .buffers(buffers)) }

    package struct AsyncIterator: AsyncIteratorProtocol {
        enum State {
            case client(HTTPClientResponse.Body.AsyncIterator)
            case buffers(IndexingIterator<[ByteBuffer]>)
        }
        var state: State

        package mutating func next() async throws -> ByteBuffer? {
            switch state {
            case .client(var iterator):
                let next = try await iterator.next()
                state = .client(iterator)
                return next
            case .buffers(var iterator):
                let next = iterator.next()
                state = .buffers(iterator)
                return next
            }
        }
    }

    package func makeAsyncIterator() -> AsyncIterator {
        switch storage {
        case .client(let body): AsyncIterator(state: .client(body.makeAsyncIterator()))
        case .buffers(let buffers): AsyncIterator(state: .buffers(buffers.makeIterator()))
        }
    }
}
