import EmailEvents
import EventStore
import Foundation
import Hummingbird
import IngressApp
import Logging
import PostgresNIO
import PostwireConfig
import RedisSetup
import RedisStreams
import ServiceLifecycle
import WorkerApp

/// Runs the real ingress and workers inside the test process, against the real servers.
enum Harness {
    /// An ingress on a free port for the duration of `body`, which gets its base URL.
    static func withIngress<T: Sendable>(
        _ configuration: PostwireConfiguration,
        environment: [String: String],
        _ body: @Sendable (String) async throws -> T
    ) async throws -> T {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let services = try Ingress.buildServices(
            configuration: configuration, secrets: Secrets(environment: environment), logger: TestEnvironment.logger,
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) }
        )
        return try await run(services, until: ports) { port in try await body("http://127.0.0.1:\(port)") }
    }

    /// An ingress with its sources and SNS handshake given directly (no network in tests).
    static func withIngress<T: Sendable>(
        _ configuration: PostwireConfiguration,
        registry: SourceRegistry,
        confirmSubscription: @escaping @Sendable (String) async throws -> Void,
        _ body: @Sendable (String) async throws -> T
    ) async throws -> T {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let redis = TestEnvironment.redis()
        let sink = RedisEventSink(
            client: redis, layout: configuration.redis.layout, quarantineStream: configuration.redis.quarantineStream,
            budgetPrefix: configuration.redis.quarantineBudgetPrefix)
        let app = Ingress.buildApplication(
            configuration: configuration, registry: registry, sink: sink, logger: TestEnvironment.logger,
            confirmSubscription: confirmSubscription, onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) }
        )
        defer { Task { await redis.close() } }
        return try await run([app], until: ports) { port in try await body("http://127.0.0.1:\(port)") }
    }

    private static func run<T: Sendable>(
        _ services: [any Service],
        until ports: AsyncStream<Int>,
        _ body: @Sendable (Int) async throws -> T
    ) async throws -> T {
        return try await running(ServiceGroup(services: services, logger: TestEnvironment.logger)) {
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw CancellationError() }
            return try await body(port)
        }
    }

    /// Runs `group` for the duration of `body`, then shuts it down gracefully, also when `body` throws.
    static func running<T: Sendable>(_ group: ServiceGroup, _ body: @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { tasks in
            tasks.addTask {
                try await group.run()
                return nil
            }
            do {
                let result = try await body()
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                return result
            } catch {
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                throw error
            }
        }
    }

    /// One worker (its own PostgreSQL and Redis clients) for the duration of `body`; shut down
    /// gracefully afterwards.
    /// A worker for the duration of `body`; `environment` holds its secrets (Redis passwords).
    static func withWorker<T: Sendable>(
        _ configuration: PostwireConfiguration,
        consumer: String,
        environment: [String: String] = [:],
        _ body: @Sendable (EventWorker) async throws -> T
    ) async throws -> T {
        let secrets = Secrets(environment: environment)
        let postgres = PostgresClient(
            configuration: TestEnvironment.postgresConfiguration(
                database: configuration.postgres.database, port: configuration.postgres.port),
            backgroundLogger: TestEnvironment.logger
        )
        var settings = configuration.worker
        settings.consumer = consumer
        let worker = EventWorker(
            redis: try configuration.redis.clientConfiguration(
                password: secrets.redisPassword, sentinelPassword: secrets.redisSentinelPassword),
            store: EventStore(client: postgres, logger: TestEnvironment.logger, policy: try configuration.analytics.policy()),
            settings: settings, campaignRule: try CampaignRule(configuration.analytics.campaignRule),
            engagement: try configuration.analytics.engagementRules(), layout: configuration.redis.layout,
            deadLetterStream: configuration.redis.deadLetterStream, logger: TestEnvironment.logger
        )
        return try await running(ServiceGroup(services: [postgres, worker], logger: TestEnvironment.logger)) { try await body(worker) }
    }

    /// Waits until every entry of the stream was delivered to the group and acknowledged.
    static func waitUntilDrained(
        _ redis: RedisClient, _ configuration: PostwireConfiguration, timeout: Duration = .seconds(30)
    ) async throws {
        try await TestEnvironment.eventually(timeout: timeout, "stream \(configuration.redis.stream) drained") {
            // The group's backlog as the gauges compute it: Redis's own lag can be stale after a restart.
            guard let group = try await redis.groups(configuration.redis.stream).first(where: { $0.name == configuration.worker.group })
            else { return false }
            return group.pending == 0 && group.backlog == 0
        }
    }
}
