import NIOConcurrencyHelpers

/// What one worker has done since it started; read by tests now and by metrics later.
public final class WorkerStats: Sendable {
    public struct Snapshot: Sendable, Equatable {
        /// Entries acknowledged after their batch committed (or after being dead-lettered).
        public var acknowledged = 0
        public var stored = 0
        public var duplicates = 0
        public var deadLettered = 0
        public var reclaimed = 0
        /// Batch attempts that failed for an unavailable dependency and were retried.
        public var batchFailures = 0
    }

    private let box = NIOLockedValueBox(Snapshot())

    public init() {}

    public var snapshot: Snapshot { box.withLockedValue { $0 } }

    func record(_ update: (inout Snapshot) -> Void) { box.withLockedValue(update) }
}
