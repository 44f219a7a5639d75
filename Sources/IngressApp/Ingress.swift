import Hummingbird
import Logging
import NIOCore
import PostwireConfig
import Providers
import RedisStreams

/// Assembles the ingress: the webhook routes, health and readiness. The executable and the
/// integration tests build the same object.
public enum Ingress {
    public static func buildApplication(
        configuration: PostwireConfiguration,
        secrets: Secrets,
        logger: Logger,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) throws(ConfigurationError) -> some ApplicationProtocol {
        let certificates: any SNSCertificateSource =
            configuration.ingress.snsCertificateDirectory.isEmpty
            ? FetchingSNSCertificates() : PinnedSNSCertificates(directory: configuration.ingress.snsCertificateDirectory)
        let registry = try SourceRegistry(sources: configuration.sources, secrets: secrets, certificates: certificates)
        let redis = RedisClient(configuration: configuration.redis.clientConfiguration(password: secrets.redisPassword), logger: logger)
        let sink = RedisEventSink(client: redis, layout: configuration.redis.layout, quarantineStream: configuration.redis.quarantineStream)
        let trustedProxies: IPAllowlist
        do {
            trustedProxies = try IPAllowlist(configuration.ingress.trustedProxies)
        } catch {
            throw ConfigurationError(message: "ingress.trustedProxies: \(error)")
        }
        return buildApplication(
            configuration: configuration, registry: registry, sink: sink, logger: logger, trustedProxies: trustedProxies,
            onServerRunning: onServerRunning)
    }

    public static func buildApplication(
        configuration: PostwireConfiguration,
        registry: SourceRegistry,
        sink: any EventSink,
        logger: Logger,
        trustedProxies: IPAllowlist = .none,
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
            confirmSubscription: confirmSubscription
        ).add(to: router)
        return Application(
            router: router,
            configuration: .init(
                address: .hostname(configuration.ingress.host, port: configuration.ingress.port), serverName: "postwire-ingress"),
            onServerRunning: onServerRunning,
            logger: logger
        )
    }
}
