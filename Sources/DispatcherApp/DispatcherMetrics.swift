import CoreMetrics
import EventStore
import Metrics
import Operations

/// The dispatcher's metrics (docs/METRICS.md), per endpoint.
struct DispatcherMetrics: Sendable {
    let registry: MetricsRegistry

    func attempted(_ endpoint: String, events: Int, status: Int?, duration: Duration) {
        let factory = registry.factory
        let dimensions = [("endpoint", endpoint)]
        Counter(label: "postwire_dispatcher_attempts_total", dimensions: dimensions, factory: factory).increment()
        Timer(label: "postwire_dispatcher_request_duration_seconds", dimensions: dimensions, factory: factory).record(duration: duration)
        if let status, (200..<300).contains(status) {
            Counter(label: "postwire_dispatcher_delivered_events_total", dimensions: dimensions, factory: factory)
                .increment(by: events)
        } else {
            let result = status.map { "http_\($0 / 100)xx" } ?? "no_answer"
            Counter(
                label: "postwire_dispatcher_failed_attempts_total", dimensions: dimensions + [("result", result)], factory: factory
            ).increment()
        }
    }

    func exhausted(_ endpoint: String, events: Int) {
        Counter(label: "postwire_dispatcher_exhausted_events_total", dimensions: [("endpoint", endpoint)], factory: registry.factory)
            .increment(by: events)
    }

    func disabled(_ endpoint: String, kind: String) {
        Counter(
            label: "postwire_dispatcher_endpoints_disabled_total", dimensions: [("endpoint", endpoint), ("kind", kind)],
            factory: registry.factory
        ).increment()
    }

    /// The queue gauges, read from PostgreSQL at each scrape.
    func record(_ backlogs: [EndpointBacklog]) {
        let factory = registry.factory
        for backlog in backlogs {
            let dimensions = [("endpoint", backlog.endpoint)]
            Gauge(label: "postwire_dispatcher_pending", dimensions: dimensions, factory: factory).record(backlog.pending)
            Gauge(label: "postwire_dispatcher_due", dimensions: dimensions, factory: factory).record(backlog.due)
            Gauge(label: "postwire_dispatcher_oldest_due_seconds", dimensions: dimensions, factory: factory).record(
                backlog.oldestDueSeconds)
            Gauge(label: "postwire_dispatcher_failed", dimensions: dimensions, factory: factory).record(backlog.failed)
        }
    }
}
