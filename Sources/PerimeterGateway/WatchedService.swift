import Logging
import ServiceLifecycle
import Synchronization

/// Runs a service and, once its shutdown has begun, logs every few seconds that it is still stopping,
/// so the log of a slow shutdown names what it waits on.
struct WatchedService: Service, CustomStringConvertible {
    let service: any Service
    let logger: Logger
    /// Logs the start of the shutdown (the outermost service does).
    var announcesShutdown = false
    var interval: Duration = .seconds(3)

    var description: String {
        let name = String(describing: type(of: service))
        return name.hasPrefix("Application<") ? "the HTTP server and the services" : name
    }

    func run() async throws {
        let finished = FinishedFlag()
        let name = description
        let (logger, interval, announces) = (logger, interval, announcesShutdown)
        try await withGracefulShutdownHandler {
            defer { finished.set() }
            try await service.run()
        } onGracefulShutdown: {
            if announces { logger.notice("shutting down: calls in flight finish, then the call log and budget leases are written") }
            Task {
                var waited = Duration.zero
                while true {
                    try? await Task.sleep(for: interval)
                    guard !finished.isSet else { return }
                    waited += interval
                    logger.notice("shutdown still waits for \(name) after \(waited)")
                }
            }
        }
    }
}

private final class FinishedFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}
