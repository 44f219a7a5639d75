import EventStore
import Hummingbird
import Logging
import NIOCore
import Operations
import RedisStreams

extension EventWorker {
    /// The worker's operations server (docs/METRICS.md): its metrics, with the stream gauges read
    /// from Redis at each scrape; `/readyz` is 200 when both Redis and PostgreSQL answer.
    public func operationsServer(
        host: String, port: Int, quarantineStream: String,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        var single = redisConfiguration
        single.connections = 1
        let redis = RedisClient(configuration: single, logger: logger)
        let gauges = StreamGauges(
            redis: redis, layout: layout, deadLetterStream: deadLetterStream, quarantineStream: quarantineStream, metrics: stats.metrics)
        return OperationsServer.build(
            host: host, port: port, metrics: stats.metrics, serverName: "postwire-worker-operations", logger: logger,
            refresh: { [logger] in
                do {
                    try await gauges.refresh()
                } catch {
                    logger.warning("stream gauges not refreshed", metadata: ["error": "\(error)"])
                }
            },
            readiness: { [store] in
                do {
                    try await redis.ping()
                } catch {
                    return "redis is unreachable: \(error)"
                }
                do {
                    try await store.ping()
                } catch {
                    return "postgresql is unreachable: \(error)"
                }
                return nil
            },
            onServerRunning: onServerRunning)
    }
}
