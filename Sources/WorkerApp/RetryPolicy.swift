import PostwireConfig

/// How a worker retries, in one value (docs/DESIGN.md guarantees 2 and 4):
///
/// - A batch that fails because PostgreSQL or Redis is unavailable is retried by the worker that
///   holds it, after an exponential backoff with jitter between `initialBackoff` and `maxBackoff`.
/// - An entry whose worker died is retried by another worker once it has been pending `claimMinIdle`.
/// - An entry delivered more than `maxDeliveries` times is given up on: dead-lettered (only while
///   PostgreSQL answers, since an outage is no fault of the entry).
/// - An entry PostgreSQL refuses for its data is not retried at all: the same statement would fail
///   again, so it is dead-lettered at once.
public struct RetryPolicy: Sendable, Equatable {
    public var initialBackoff: Duration
    public var maxBackoff: Duration
    public var claimMinIdle: Duration
    public var maxDeliveries: Int

    public init(initialBackoff: Duration, maxBackoff: Duration, claimMinIdle: Duration, maxDeliveries: Int) {
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.claimMinIdle = claimMinIdle
        self.maxDeliveries = max(1, maxDeliveries)
    }

    public init(_ settings: WorkerSettings) {
        self.init(
            initialBackoff: .milliseconds(settings.backoffMilliseconds),
            maxBackoff: .milliseconds(settings.maxBackoffMilliseconds),
            claimMinIdle: .milliseconds(settings.claimMinIdleMilliseconds),
            maxDeliveries: settings.maxDeliveries
        )
    }

    /// A fresh backoff schedule for one retry loop.
    func backoff() -> Backoff { Backoff(base: initialBackoff, cap: maxBackoff) }

    /// Whether an entry delivered this many times is given up on.
    public func isExhausted(deliveries: Int64) -> Bool { deliveries > Int64(maxDeliveries) }

    var claimMinIdleMilliseconds: Int {
        Int(claimMinIdle.components.seconds * 1000 + claimMinIdle.components.attoseconds / 1_000_000_000_000_000)
    }
}
