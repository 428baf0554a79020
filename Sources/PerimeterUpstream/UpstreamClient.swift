import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// The gateway's HTTP/1.1 client for provider calls, built for the hot path.
///
/// Each event loop keeps its own pool of keep-alive connections, and a call takes its connection from
/// the loop it is running on, so the client's socket, the upstream socket and the call's task share one
/// thread and a call crosses no thread boundary. A request leaves in one write; the answer's body
/// streams to the caller as it is read, with backpressure. A kept-alive connection that the provider
/// closed in the meantime is noticed before any answer byte, and the call goes again on a new one.
package final class UpstreamClient: Sendable {
    package struct Configuration: Sendable {
        package var connectTimeout: Duration
        /// The longest wait for bytes from the provider while a call is in flight (between chunks too).
        package var readTimeout: Duration
        /// Idle connections older than this are closed instead of reused.
        package var idleTimeout: Duration = .seconds(60)
        /// Idle connections kept per provider on each event loop.
        package var maximumIdlePerOrigin = 256
        /// Calls in flight per provider origin, over all loops (each holds a connection until its answer
        /// is read or dropped); a call beyond it fails at once instead of waiting.
        package var maximumConnectionsPerOrigin = 10_000

        package init(connectTimeout: Duration, readTimeout: Duration) {
            self.connectTimeout = connectTimeout
            self.readTimeout = readTimeout
        }
    }

    private let group: MultiThreadedEventLoopGroup
    private let configuration: Configuration
    private let pools: [ObjectIdentifier: ConnectionPool]
    /// TLS contexts by trusted CA file (`nil`: the system's roots), made on first use.
    private let tlsContexts = Mutex<[String?: NIOSSLContext]>([:])
    private let inFlight = Mutex<[UpstreamOrigin: Int]>([:])

    package init(group: MultiThreadedEventLoopGroup = .singleton, configuration: Configuration) {
        self.group = group
        self.configuration = configuration
        var pools: [ObjectIdentifier: ConnectionPool] = [:]
        for loop in group.makeIterator() {
            pools[ObjectIdentifier(loop)] = ConnectionPool(configuration: configuration, eventLoop: loop)
        }
        self.pools = pools
    }

    /// Sends a request and returns once the response head has arrived. `headTimeout` bounds the wait
    /// for the head; the read timeout bounds every later wait for body bytes.
    /// `caFile` is trusted instead of the system's roots for an https URL. `eventLoop` picks the pool;
    /// by default the loop the caller runs on, else any.
    package func send(
        method: HTTPRequest.Method, url: String, headers: HTTPFields, body: ByteBuffer?, headTimeout: Duration,
        caFile: String? = nil, eventLoop: (any EventLoop)? = nil
    ) async throws(UpstreamError) -> UpstreamResponseStart {
        guard let (parsedOrigin, target) = UpstreamOrigin.parse(url) else {
            throw .unreachable("not an http(s) URL: \(url)")
        }
        var origin = parsedOrigin
        if origin.tls { origin.caFile = caFile }
        var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method.rawValue), uri: target)
        head.headers.reserveCapacity(headers.count + 2)
        head.headers.add(name: "host", value: origin.hostHeader)
        for field in headers {
            head.headers.add(name: field.name.rawName, value: field.value)
        }
        if let body {
            head.headers.add(name: "content-length", value: String(body.readableBytes))
        } else if method == .post || method == .put || method == .patch {
            head.headers.add(name: "content-length", value: "0")
        }
        let loop = eventLoop ?? currentLoop() ?? group.next()
        guard let pool = pools[ObjectIdentifier(loop)] else { throw .unreachable("no connection pool for this event loop") }
        let limit = configuration.maximumConnectionsPerOrigin
        let admitted = inFlight.withLock { calls in
            guard calls[origin, default: 0] < limit else { return false }
            calls[origin, default: 0] += 1
            return true
        }
        guard admitted else { throw .unreachable("upstream_max_connections (\(limit)) reached") }
        // The slot is given back when the exchange ends: the answer's last byte, a body dropped, a failure.
        let release: @Sendable () -> Void = { [self, origin] in inFlight.withLock { $0[origin, default: 1] -= 1 } }
        let request = PendingRequest(
            origin: origin, head: head, body: body, headTimeout: TimeAmount(headTimeout), onBodyEnd: release)
        do {
            // A caller that stops waiting (its client left) ends the exchange now, not at the head's deadline.
            return try await withTaskCancellationHandler {
                do {
                    return try await start(request, pool: pool, reuse: true).get()
                } catch UpstreamConnectionError.stale {
                    return try await start(request, pool: pool, reuse: false).get()
                }
            } onCancel: {
                request.cancellation.cancel()
            }
        } catch UpstreamConnectionError.timeout {
            release()
            throw .timeout
        } catch UpstreamConnectionError.cancelled {
            release()
            throw .unreachable("the call was cancelled before the answer's head")
        } catch {
            release()
            throw .unreachable(String(describing: error))
        }
    }

    /// Closes every pooled connection.
    package func shutdown() async {
        var closing: [EventLoopFuture<Void>] = []
        for pool in pools.values {
            closing.append(pool.eventLoop.submit { pool.closeAll() })
        }
        for future in closing { try? await future.get() }
    }

    private func currentLoop() -> (any EventLoop)? {
        guard let loop = MultiThreadedEventLoopGroup.currentEventLoop, pools[ObjectIdentifier(loop)] != nil else { return nil }
        return loop
    }

    private func start(_ request: PendingRequest, pool: ConnectionPool, reuse: Bool) -> EventLoopFuture<
        UpstreamResponseStart
    > {
        let loop = pool.eventLoop
        if loop.inEventLoop {
            return start(request, in: pool, on: loop, reuse: reuse)
        }
        return loop.flatSubmit { self.start(request, in: pool, on: loop, reuse: reuse) }
    }

    private func start(_ request: PendingRequest, in pool: ConnectionPool, on loop: any EventLoop, reuse: Bool) -> EventLoopFuture<
        UpstreamResponseStart
    > {
        guard !pool.isShutDown else { return loop.makeFailedFuture(UpstreamConnectionError.closed("the gateway is shutting down")) }
        guard !request.cancellation.isCancelled else { return loop.makeFailedFuture(UpstreamConnectionError.cancelled) }
        if reuse, let handler = pool.take(request.origin) {
            return handler.execute(request, reused: true, on: loop)
        }
        return connect(request.origin, on: loop).flatMap { channel in
            let handler: UpstreamConnectionHandler
            do {
                handler = try channel.pipeline.syncOperations.handler(type: UpstreamConnectionHandler.self)
            } catch {
                channel.close(promise: nil)
                return loop.makeFailedFuture(error)
            }
            pool.adopt(handler, origin: request.origin, channel: channel)
            return handler.execute(request, reused: false, on: loop)
        }
    }

    private func connect(_ origin: UpstreamOrigin, on loop: any EventLoop) -> EventLoopFuture<any Channel> {
        var sslContext: NIOSSLContext?
        if origin.tls {
            switch tlsContext(trusting: origin.caFile) {
            case .success(let context): sslContext = context
            case .failure(let error): return loop.makeFailedFuture(error)
            }
        }
        let readTimeout = TimeAmount(configuration.readTimeout)
        let serverName = Self.isIPAddress(origin.host) ? nil : origin.host
        return ClientBootstrap(group: loop)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [sslContext] channel in
                do {
                    let pipeline = channel.pipeline.syncOperations
                    if let sslContext {
                        try pipeline.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: serverName))
                    }
                    try pipeline.addHTTPClientHandlers()
                    try pipeline.addHandler(UpstreamConnectionHandler(readTimeout: readTimeout))
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .connect(host: origin.host, port: origin.port)
    }

    /// Makes the TLS contexts for these CA files (and the system's roots) now, at start-up, rather than
    /// on the first call's event loop; throws when a file is not a usable CA certificate.
    package func prepareTLS(caFiles: [String?]) throws {
        for caFile in caFiles {
            if case .failure(let error) = tlsContext(trusting: caFile) { throw error }
        }
    }

    /// A context is kept once made; a failure is not, so a CA file fixed on disk is read again.
    private func tlsContext(trusting caFile: String?) -> Result<NIOSSLContext, TLSSetupError> {
        if let known = tlsContexts.withLock({ $0[caFile] }) { return .success(known) }
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let caFile { configuration.trustRoots = .file(caFile) }
        let made = Result { try NIOSSLContext(configuration: configuration) }.mapError { error in
            TLSSetupError(description: "TLS setup failed\(caFile.map { " for ca_file \($0)" } ?? ""): \(error)")
        }
        if case .success(let context) = made { tlsContexts.withLock { $0[caFile] = context } }
        return made
    }

    package struct TLSSetupError: Error, CustomStringConvertible {
        package let description: String
    }

    private static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}

struct PendingRequest: Sendable {
    let origin: UpstreamOrigin
    let head: HTTPRequestHead
    let body: ByteBuffer?
    let headTimeout: TimeAmount
    /// Called once when the exchange ends after its head: the body's end, a dropped body, a failure.
    let onBodyEnd: @Sendable () -> Void
    let cancellation = UpstreamCancellation()
}

/// One event loop's idle keep-alive connections, per origin, most recently used first out.
///
/// Confined to its event loop: every method runs there (checked in debug builds). It is made before
/// the loops run anything, which `NIOLoopBound` would not allow, hence the unchecked conformance.
final class ConnectionPool: @unchecked Sendable {
    let eventLoop: any EventLoop
    private struct Idle {
        let handler: UpstreamConnectionHandler
        let since: NIODeadline
    }

    private let configuration: UpstreamClient.Configuration
    private var idle: [UpstreamOrigin: [Idle]] = [:]
    private var open: [ObjectIdentifier: any Channel] = [:]
    private var reaper: RepeatedTask?
    private(set) var isShutDown = false

    init(configuration: UpstreamClient.Configuration, eventLoop: any EventLoop) {
        self.configuration = configuration
        self.eventLoop = eventLoop
    }

    func take(_ origin: UpstreamOrigin) -> UpstreamConnectionHandler? {
        eventLoop.assertInEventLoop()
        let oldest = NIODeadline.now() - TimeAmount(configuration.idleTimeout)
        while let candidate = idle[origin]?.popLast() {
            if candidate.since > oldest, candidate.handler.isIdle { return candidate.handler }
            candidate.handler.closeIfIdle()
        }
        return nil
    }

    /// Takes a new connection under the pool's care: it comes back when idle and leaves when closed.
    func adopt(_ handler: UpstreamConnectionHandler, origin: UpstreamOrigin, channel: any Channel) {
        eventLoop.assertInEventLoop()
        // A connection that finished connecting after shutdown began serves its call, then closes.
        if isShutDown { handler.onIdle = { [unowned handler] in handler.closeIfIdle() }; return }
        if reaper == nil {
            let interval = TimeAmount(configuration.idleTimeout / 2)
            reaper = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] _ in reap() }
        }
        let id = ObjectIdentifier(channel)
        open[id] = channel
        handler.onIdle = { [unowned self, unowned handler] in
            self.release(handler, origin: origin)
        }
        channel.closeFuture.assumeIsolated().whenComplete { [self] _ in
            self.open[id] = nil
            self.idle[origin]?.removeAll { $0.handler === handler }
        }
    }

    func closeAll() {
        eventLoop.assertInEventLoop()
        isShutDown = true
        reaper?.cancel()
        reaper = nil
        for channel in open.values { channel.close(promise: nil) }
        idle.removeAll()
    }

    /// Closes connections idle for longer than the idle timeout, so a burst's connections do not stay
    /// open until the provider closes them.
    private func reap() {
        let oldest = NIODeadline.now() - TimeAmount(configuration.idleTimeout)
        for (origin, list) in idle {
            let (stale, fresh) = (list.filter { $0.since <= oldest }, list.filter { $0.since > oldest })
            guard !stale.isEmpty else { continue }
            idle[origin] = fresh.isEmpty ? nil : fresh
            for entry in stale { entry.handler.closeIfIdle() }
        }
    }

    private func release(_ handler: UpstreamConnectionHandler, origin: UpstreamOrigin) {
        var list = idle[origin, default: []]
        guard list.count < configuration.maximumIdlePerOrigin else {
            handler.closeIfIdle()
            return
        }
        list.append(Idle(handler: handler, since: .now()))
        idle[origin] = list
    }
}
