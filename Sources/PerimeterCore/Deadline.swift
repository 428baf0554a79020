/// Waits for `work` at most `limit`; true when it finished in time. The work runs in a task of its own,
/// so a caller that is itself cancelled (a shutdown past its timeout) still waits, and work that never
/// ends is left behind rather than waited for.
public func finishes(within limit: Duration, _ work: @escaping @Sendable () async -> Void) async -> Bool {
    let (ended, ending) = AsyncStream<Bool>.makeStream()
    let worker = Task {
        await work()
        ending.yield(true)
    }
    let timer = Task {
        try? await Task.sleep(for: limit)
        ending.yield(false)
    }
    let result = await Task {
        for await value in ended { return value }
        return false
    }.value
    timer.cancel()
    if !result { worker.cancel() }
    return result
}
