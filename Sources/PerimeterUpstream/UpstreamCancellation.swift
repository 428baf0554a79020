import Synchronization

/// Carries a caller's cancellation to the connection its request is on at the time, whichever attempt
/// that is; a connection that takes the request after the cancellation hears of it at once.
final class UpstreamCancellation: Sendable {
    private let state = Mutex<(isCancelled: Bool, onCancel: (@Sendable () -> Void)?)>((false, nil))

    init() {}

    var isCancelled: Bool { state.withLock { $0.isCancelled } }

    func cancel() {
        let onCancel = state.withLock { state -> (@Sendable () -> Void)? in
            guard !state.isCancelled else { return nil }
            state.isCancelled = true
            defer { state.onCancel = nil }
            return state.onCancel
        }
        onCancel?()
    }

    /// Replaces the previous attempt's handler: only the current connection is cancelled.
    func setHandler(_ onCancel: @escaping @Sendable () -> Void) {
        let isCancelled = state.withLock { state in
            if !state.isCancelled { state.onCancel = onCancel }
            return state.isCancelled
        }
        if isCancelled { onCancel() }
    }
}
