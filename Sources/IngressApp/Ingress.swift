import EmailEvents
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import Operations
import PostwireConfig
import Providers
import RedisSetup
import RedisStreams
import ServiceLifecycle

/// Assembles the ingress: the webhook routes, health and readiness. The executable and the
/// integration tests build the same object.
public enum Ingress {
    /// The ingress process: the webhook server and, unless `ingress.metricsPort` is -1, the
    /// operations server (`/metrics`, `/healthz`, `/readyz`). `onServerRunning` and
    /// `onOperationsRunning` learn the bound channels (tests use port 0).
    public static func buildServices(
        configuration: PostwireConfiguration,
        secrets: Secrets,
        logger: Logger,
        metrics: IngressMetrics = IngressMetrics(),
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in },
        onOperationsRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) throws(ConfigurationError) -> [any Service] {
        let certificates: any SNSCertificateSource =
            configuration.ingress.snsCertificateDirectory.isEmpty
            ? FetchingSNSCertificates() : PinnedSNSCertificates(directory: configuration.ingress.snsCertificateDirectory)
        let registry = try SourceRegistry(sources: configuration.sources, secrets: secrets, certificates: certificates)
        let redis = RedisClient(
            configuration: try configuration.redis.clientConfiguration(
                password: secrets.redisPassword, sentinelPassword: secrets.redisSentinelPassword),
            logger: logger)
        let sink = RedisEventSink(
            client: redis, layout: configuration.redis.layout, quarantineStream: configuration.redis.quarantineStream,
            budgetPrefix: configuration.redis.quarantineBudgetPrefix, acknowledgement: configuration.redis.acknowledgement)
        let trustedProxies: IPAllowlist
        do {
            trustedProxies = try IPAllowlist(configuration.ingress.trustedProxies)
        } catch {
            throw ConfigurationError(message: "ingress.trustedProxies: \(error)")
        }
        var services: [any Service] = [
            buildApplication(
                configuration: configuration, registry: registry, sink: sink, logger: logger, trustedProxies: trustedProxies,
                rateLimiter: RedisRateLimiter(client: redis, prefix: configuration.redis.rateLimitPrefix, logger: logger),
                metrics: metrics, onServerRunning: onServerRunning)
        ]
        if configuration.ingress.metricsPort >= 0 {
            services.append(
                OperationsServer.build(
                    host: configuration.ingress.metricsHost, port: configuration.ingress.metricsPort, metrics: metrics.registry,
                    serverName: "postwire-ingress-operations", logger: logger,
                    readiness: {
                        do {
                            try await sink.ping()
                            return nil
                        } catch {
                            return "redis is unreachable: \(error)"
                        }
                    },
                    onServerRunning: onOperationsRunning))
        }
        return services
    }

    public static func buildApplication(
        configuration: PostwireConfiguration,
        registry: SourceRegistry,
        sink: any EventSink,
        logger: Logger,
        trustedProxies: IPAllowlist = .none,
        rateLimiter: (any RateLimiter)? = nil,
        metrics: IngressMetrics = IngressMetrics(),
        confirmSubscription: @escaping @Sendable (String) async throws -> Void = SNSSubscription.confirm,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router(context: IngressRequestContext.self)
        router.get("/healthz") { _, _ in JSONResponse.make(.ok, ["status": "ok"]) }
        router.get("/readyz") { _, context in
            do {
                try await sink.ping()
                return JSONResponse.make(.ok, ["status": "ready"])
            } catch {
                context.logger.warning("not ready", metadata: ["error": "\(error)"])
                return JSONResponse.error(.serviceUnavailable, code: "unavailable", message: "redis is unreachable")
            }
        }
        WebhookRoutes(
            registry: registry,
            sink: sink,
            maxBodyBytes: configuration.ingress.maxBodyBytes,
            retryAfterSeconds: configuration.ingress.retryAfterSeconds,
            trustedProxies: trustedProxies,
            confirmSubscription: confirmSubscription,
            metrics: metrics,
            rateLimiter: rateLimiter,
            budget: QuarantineBudget(
                entriesPerHour: configuration.ingress.quarantineEntriesPerHour, bytesPerHour: configuration.ingress.quarantineBytesPerHour),
            bodyTimeout: .seconds(max(1, configuration.ingress.bodyTimeoutSeconds))
        ).add(to: router)
        let connections = ConnectionLimit.effective(configured: configuration.ingress.maxConnections)
        if connections < configuration.ingress.maxConnections {
            logger.notice(
                "ingress.maxConnections lowered to fit the open-file limit",
                metadata: ["configured": "\(configuration.ingress.maxConnections)", "effective": "\(connections)"])
        }
        var http1 = HTTP1Channel.Configuration()
        http1.idleTimeout = .seconds(Int64(max(1, configuration.ingress.idleTimeoutSeconds)))
        return Application(
            router: router,
            server: .http1(configuration: http1),
            configuration: .init(
                address: .hostname(configuration.ingress.host, port: configuration.ingress.port), serverName: "postwire-ingress",
                availableConnectionsDelegate: .maximum(connections, logger: logger)),
            onServerRunning: onServerRunning,
            logger: logger
        )
    }
}
