import CoreMetrics
import Foundation
import Metrics
import NIOConcurrencyHelpers
import Operations

/// What one worker has done since it started: plain counters (read by tests and `snapshot`) and
/// the same facts as Prometheus metrics (docs/METRICS.md), updated together in one place.
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
    public let metrics: MetricsRegistry

    public init() {
        metrics = MetricsRegistry(
            durationBuckets: [
                // Fine below a second, where a healthy pipeline's delay lies (the batch linger is
                // 100 ms), so p50 and p99 there are more than "under 250 ms".
                "postwire_worker_receive_to_commit_seconds": [
                    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 10, 30, 60, 120, 300, 900,
                ].map {
                    Duration.milliseconds(Int64($0 * 1000))
                },
                "postwire_worker_commit_duration_seconds": [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30].map {
                    Duration.milliseconds(Int64($0 * 1000))
                },
            ],
            valueBuckets: ["postwire_worker_batch_size": [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000]]
        )
        // Every unlabelled series exists from the start (making one registers it, at 0), so
        // `increase()` sees its first step.
        for label in Self.counters { _ = counter(label) }
        _ = Recorder(label: "postwire_worker_batch_size", factory: metrics.factory)
        _ = Timer(label: "postwire_worker_commit_duration_seconds", factory: metrics.factory)
        _ = Timer(label: "postwire_worker_receive_to_commit_seconds", factory: metrics.factory)
        for kind in ["complaint_rate", "bounce_rate"] {
            _ = Counter(label: "postwire_worker_alerts_total", dimensions: [("kind", kind)], factory: metrics.factory)
        }
    }

    static let counters = [
        "postwire_worker_events_stored_total", "postwire_worker_duplicates_total", "postwire_worker_dead_lettered_total",
        "postwire_worker_reclaimed_total", "postwire_worker_batch_failures_total",
    ]

    public var snapshot: Snapshot { box.withLockedValue { $0 } }

    /// A batch committed: `receivedAt` of each event gives the receive-to-commit delay.
    func committed(batch: Int, stored: Int, duplicates: Int, commit: Duration, receivedAt: [Date]) {
        box.withLockedValue {
            $0.stored += stored
            $0.duplicates += duplicates
        }
        Recorder(label: "postwire_worker_batch_size", factory: metrics.factory).record(batch)
        Timer(label: "postwire_worker_commit_duration_seconds", factory: metrics.factory).record(duration: commit)
        counter("postwire_worker_events_stored_total").increment(by: stored)
        counter("postwire_worker_duplicates_total").increment(by: duplicates)
        let delay = Timer(label: "postwire_worker_receive_to_commit_seconds", factory: metrics.factory)
        let now = Date()
        for received in receivedAt { delay.recordNanoseconds(Int64(max(0, now.timeIntervalSince(received)) * 1e9)) }
    }

    /// Written again one by one after PostgreSQL refused the batch (no batch metrics for these).
    func isolated(stored: Int, duplicates: Int) {
        box.withLockedValue {
            $0.stored += stored
            $0.duplicates += duplicates
        }
        counter("postwire_worker_events_stored_total").increment(by: stored)
        counter("postwire_worker_duplicates_total").increment(by: duplicates)
    }

    func acknowledged(_ count: Int) { box.withLockedValue { $0.acknowledged += count } }

    func deadLettered() {
        box.withLockedValue { $0.deadLettered += 1 }
        counter("postwire_worker_dead_lettered_total").increment()
    }

    func reclaimed(_ count: Int) {
        box.withLockedValue { $0.reclaimed += count }
        counter("postwire_worker_reclaimed_total").increment(by: count)
    }

    func alertRaised(_ kind: String) {
        Counter(label: "postwire_worker_alerts_total", dimensions: [("kind", kind)], factory: metrics.factory).increment()
    }

    func batchFailed() {
        box.withLockedValue { $0.batchFailures += 1 }
        counter("postwire_worker_batch_failures_total").increment()
    }

    private func counter(_ label: String) -> Counter { Counter(label: label, factory: metrics.factory) }
}
