import NIOConcurrencyHelpers

/// A deadline error: `what` did not answer within `timeout`.
public struct TimedOut: Error, CustomStringConvertible {
    public var what: String
    public var timeout: Duration
    public var description: String { "\(what) did not answer within \(timeout)" }
}

/// The result of `operation`, or ``TimedOut`` after `timeout`, whichever comes first. Unlike a task
/// group, it does not wait for an operation that ignores cancellation (a client still trying to
/// connect): that one is cancelled and left to finish on its own.
func firstResult<T: Sendable>(
    within timeout: Duration, what: String, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let once = NIOLockedValueBox<CheckedContinuation<T, any Error>?>(nil)
    let tasks = NIOLockedValueBox<[Task<Void, Never>]>([])
    return try await withCheckedThrowingContinuation { continuation in
        once.withLockedValue { $0 = continuation }
        let finish: @Sendable (Result<T, any Error>) -> Void = { result in
            once.withLockedValue { pending in
                pending?.resume(with: result)
                pending = nil
            }
            for task in tasks.withLockedValue({ $0 }) { task.cancel() }
        }
        let work = Task {
            do { finish(.success(try await operation())) } catch { finish(.failure(error)) }
        }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            finish(.failure(TimedOut(what: what, timeout: timeout)))
        }
        tasks.withLockedValue { $0 = [work, timer] }
    }
}
