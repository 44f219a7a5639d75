import EmailEvents
import EventStore
import Foundation
import Logging
import PostwireConfig
import RedisStreams
import ServiceLifecycle

/// One worker process's share of the consumer group: `concurrency` consumer lanes (at least one per
/// stream shard), each reading, committing and acknowledging its own batches (see ``ConsumerLane``
/// for the invariants). Lanes share nothing but the PostgreSQL pool and the counters, so while one
/// commits, another is already reading; how many batches are in flight is bounded by the lane count.
///
/// On graceful shutdown every lane stops reading, finishes the batch in hand and returns; the
/// service returns when all have.
public struct EventWorker: Service {
    let redisConfiguration: RedisConfiguration
    let store: EventStore
    let settings: WorkerSettings
    let campaignRule: CampaignRule
    let engagement: EngagementRules
    let layout: StreamLayout
    let deadLetterStream: String
    public let consumer: String
    public let stats = WorkerStats()
    let logger: Logger

    public init(
        redis: RedisConfiguration, store: EventStore, settings: WorkerSettings,
        campaignRule: CampaignRule = .standard, engagement: EngagementRules = EngagementRules(), layout: StreamLayout,
        deadLetterStream: String, logger: Logger
    ) {
        self.redisConfiguration = redis
        self.store = store
        self.settings = settings
        self.campaignRule = campaignRule
        self.engagement = engagement
        self.layout = layout
        self.deadLetterStream = deadLetterStream
        self.consumer = settings.consumer.isEmpty ? Self.defaultConsumerName() : settings.consumer
        var logger = logger
        logger[metadataKey: "consumer"] = "\(consumer)"
        self.logger = logger
    }

    public var laneCount: Int { max(settings.concurrency, layout.shards) }

    /// Lane `n`'s consumer name: the worker's own name when it has one lane, else `<name>/<n>`.
    public func consumerName(lane: Int) -> String {
        laneCount == 1 ? consumer : "\(consumer)/\(lane)"
    }

    public func run() async throws {
        // A blocking XREADGROUP holds its connection, so every lane has a connection of its own.
        var single = redisConfiguration
        single.connections = 1
        let clients = (0..<laneCount).map { _ in RedisClient(configuration: single, logger: logger) }
        if await prepare(clients[0]) {
            await withTaskGroup(of: Void.self) { group in
                for lane in 0..<laneCount {
                    let shard = lane % layout.shards
                    var laneLogger = logger
                    laneLogger[metadataKey: "consumer"] = "\(consumerName(lane: lane))"
                    let name = consumerName(lane: lane)
                    let streamName = layout.stream(shard: shard)
                    let consumerLane = ConsumerLane(
                        stream: RedisLaneStream(
                            redis: clients[lane], stream: streamName, group: settings.group, consumer: name,
                            deadLetterStream: layout.keyed(deadLetterStream, shard: shard)),
                        store: store, settings: settings, policy: RetryPolicy(settings), campaignRule: campaignRule,
                        engagement: engagement, streamName: streamName, consumer: name,
                        housekeeping: lane < layout.shards ? housekeeping(redis: clients[lane], stream: streamName, self_: name) : nil,
                        stats: stats, logger: laneLogger)
                    group.addTask { await consumerLane.run() }
                }
            }
        }
        for client in clients { await client.close() }
        logger.info("worker stopped", metadata: ["lanes": "\(laneCount)"])
    }

    /// One lane per stream trims it, removes departed consumers and keeps the next months'
    /// partitions made. Failures are only logged: housekeeping must never stop the worker.
    private func housekeeping(redis: RedisClient, stream: String, self_: String) -> @Sendable () async -> Void {
        { [store, settings, logger] in
            do {
                // Next months' partitions exist before their events arrive.
                try await store.ensurePartitions(from: Date().addingTimeInterval(-31 * 86400), months: 4)
            } catch {
                logger.warning("partitions not checked", metadata: ["error": "\(error)"])
            }
            do {
                try await Housekeeping(
                    redis: redis, stream: stream, self_: self_, retentionMilliseconds: settings.consumerRetentionMilliseconds,
                    logger: logger
                ).run()
            } catch {
                logger.warning("housekeeping failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Joins the group on every shard and waits for the schema. Returns false if shut down while waiting.
    /// The analysts' views group recipient domains by mailbox provider with this worker's rules.
    /// A database user that may not replace the function (not its owner) leaves the rules
    /// `postwire migrate` installed: a warning, not a reason to stop.
    private func installMailboxProviders() async {
        do {
            try await store.installMailboxProviders(store.policy.mailboxProviders)
        } catch {
            logger.warning(
                "mailbox-provider rules not installed; run `postwire migrate` with this configuration", metadata: ["error": "\(error)"])
        }
    }

    private func prepare(_ redis: RedisClient) async -> Bool {
        var backoff = Backoff(base: .milliseconds(settings.backoffMilliseconds), cap: .seconds(5))
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                // Nothing is held yet, so waiting for a dependency may be cut short by SIGTERM.
                let version = try await cancelWhenGracefulShutdown { [store, layout, settings] in
                    for stream in layout.streams { try await redis.createGroup(stream, group: settings.group) }
                    return try await store.schemaVersion()
                }
                guard version >= EventStore.latestVersion else {
                    logger.error(
                        "database schema is at version \(version), this worker needs \(EventStore.latestVersion): run `postwire migrate`")
                    await pause(.seconds(5))
                    continue
                }
                await installMailboxProviders()
                logger.info(
                    "worker ready",
                    metadata: [
                        "streams": "\(layout.streams.joined(separator: ","))", "group": "\(settings.group)", "lanes": "\(laneCount)",
                    ])
                return true
            } catch {
                let wait = backoff.next()
                logger.error("cannot start yet", metadata: ["error": "\(error)", "retryIn": "\(wait)"])
                await pause(wait)
            }
        }
        return false
    }

    /// `<hostname>-<pid>-<random>`: containers on host networking share the host name, and a
    /// container's pid is usually 1, so neither alone keeps two workers apart; the random part does.
    static func defaultConsumerName() -> String {
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)-\(suffix)"
    }
}

/// Sleeps, cut short by graceful shutdown.
func pause(_ duration: Duration) async {
    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: duration) }
}
