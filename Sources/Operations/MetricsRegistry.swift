import CoreMetrics
import Prometheus

/// One process's metrics: a Prometheus registry and the swift-metrics factory that fills it.
///
/// Each process (and each ingress or worker a test builds in-process) has its own, passed to the
/// code that records metrics, rather than the global `MetricsSystem`: two of them in one test
/// process then count separately, and a scrape shows exactly one process's numbers.
public struct MetricsRegistry: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let factory: PrometheusMetricsFactory

    /// `durationBuckets` / `valueBuckets`: histogram buckets by metric name, where the library's
    /// defaults (5 ms … 10 s; 5 … 10,000) do not fit.
    public init(durationBuckets: [String: [Duration]] = [:], valueBuckets: [String: [Double]] = [:]) {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = durationBuckets
        factory.valueHistogramBuckets = valueBuckets
        self.factory = factory
    }

    /// The Prometheus text exposition of every metric.
    public func exposition() -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16 * 1024)
        registry.emit(into: &buffer)
        return buffer
    }
}
