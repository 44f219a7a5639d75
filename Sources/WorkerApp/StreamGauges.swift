import CoreMetrics
import Foundation
import Operations
import RedisStreams

/// The stream-state gauges of docs/METRICS.md, read from Redis when Prometheus scrapes (so they
/// are as fresh as the scrape, and cost nothing between scrapes). Every worker reports the same
/// values; dashboards and alerts aggregate with `max by (stream, group)`.
struct StreamGauges: Sendable {
    let redis: RedisClient
    let layout: StreamLayout
    let deadLetterStream: String
    let quarantineStream: String
    let metrics: MetricsRegistry

    func refresh() async throws(RedisError) {
        let factory = metrics.factory
        for stream in layout.streams + layout.all(deadLetterStream) + layout.all(quarantineStream) {
            Gauge(label: "postwire_stream_length", dimensions: [("stream", stream)], factory: factory)
                .record(try await redis.xlen(stream))
        }
        let nowMilliseconds = Int64(Date().timeIntervalSince1970 * 1000)
        for stream in layout.streams {
            for group in try await redis.groups(stream) {
                let dimensions = [("stream", stream), ("group", group.name)]
                Gauge(label: "postwire_stream_pending", dimensions: dimensions, factory: factory).record(group.pending)
                // Redis leaves lag unknown after some trims/deletions, and stale after a restart:
                // the backlog is 0 once the group has read the last entry, else lag bounded by XLEN.
                if let backlog = group.backlog {
                    Gauge(label: "postwire_stream_lag", dimensions: dimensions, factory: factory).record(backlog)
                }
                let oldest = try await redis.pendingSummary(stream, group: group.name).smallestId
                let age = oldest.flatMap(StreamEntry.milliseconds(ofId:)).map { max(0, nowMilliseconds - $0) } ?? 0
                Gauge(label: "postwire_stream_oldest_pending_seconds", dimensions: dimensions, factory: factory)
                    .record(Double(age) / 1000)
            }
        }
    }
}
