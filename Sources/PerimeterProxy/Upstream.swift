import HTTPTypes
import NIOCore
import PerimeterCore
import PerimeterProviders
import PerimeterUpstream

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

    package init(status: Int, headers: HTTPFields, body: UpstreamBody) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// A response body: the upstream connection's stream, or chunks already in memory. An enum rather than an
/// existential so iterating it costs no allocation per chunk.
package struct UpstreamBody: AsyncSequence, Sendable {
    package typealias Element = ByteBuffer

    enum Storage: Sendable {
        case stream(UpstreamResponseStart.Body)
        /// Chunks in memory, then, when set, a failure: a body that breaks off (for doubles and tests).
        case buffers([ByteBuffer], failure: (any Error & Sendable)?)
    }

    let storage: Storage

    static func stream(_ body: UpstreamResponseStart.Body) -> UpstreamBody { UpstreamBody(storage: .stream(body)) }
    package static func buffers(_ buffers: [ByteBuffer], thenFailure failure: (any Error & Sendable)? = nil) -> UpstreamBody {
        UpstreamBody(storage: .buffers(buffers, failure: failure))
    }

    package struct AsyncIterator: AsyncIteratorProtocol {
        enum State {
            case stream(UpstreamResponseStart.Body.AsyncIterator)
            case buffers(IndexingIterator<[ByteBuffer]>, failure: (any Error & Sendable)?)
        }
        var state: State

        package mutating func next() async throws -> ByteBuffer? {
            switch state {
            case .stream(let iterator):
                // The producer's iterator is a reference underneath: next() does not mutate the value.
                return try await iterator.next()
            case .buffers(var iterator, let failure):
                let next = iterator.next()
                state = .buffers(iterator, failure: failure)
                if next == nil, let failure { throw failure }
                return next
            }
        }
    }

    package func makeAsyncIterator() -> AsyncIterator {
        switch storage {
        case .stream(let body): AsyncIterator(state: .stream(body.makeAsyncIterator()))
        case .buffers(let buffers, let failure): AsyncIterator(state: .buffers(buffers.makeIterator(), failure: failure))
        }
    }
}
