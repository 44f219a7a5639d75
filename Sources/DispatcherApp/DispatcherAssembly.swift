import AsyncHTTPClient
import EventStore
import Logging
import NIOCore
import Operations
import PostgresNIO
import PostgresSetup
import PostwireConfig
import ServiceLifecycle
import UnixSignals

/// Assembles a dispatcher process: the PostgreSQL client (first to start, last to stop), the
/// operations port and the dispatcher. The executable and the integration tests build the same group.
public enum DispatcherAssembly {
    public static func buildServiceGroup(
        configuration: PostwireConfiguration, secrets: Secrets, logger: Logger, metrics: MetricsRegistry = MetricsRegistry(),
        onOperationsRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) throws(ConfigurationError) -> ServiceGroup {
        let settings = try DispatchSettings(configuration.dispatcher)
        let drafts = try configuration.dispatcher.endpoints.map { endpoint throws(ConfigurationError) in
            try draft(endpoint, secrets: secrets)
        }
        var postgresConfiguration = configuration.postgres.clientConfiguration(
            password: secrets.postgresPassword, timeouts: (30_000, 10_000))
        // The dispatcher's commits (claims, attempts, outcomes) need not wait for the disk: one lost
        // in a PostgreSQL crash only means the delivery is sent again (at least once), never lost
        // (the outbox rows themselves are written by the workers, with their commit). It makes
        // every request's bookkeeping cheaper by a WAL flush.
        postgresConfiguration.options.additionalStartupParameters.append(("synchronous_commit", "off"))
        let postgres = PostgresClient(configuration: postgresConfiguration, backgroundLogger: logger)
        let store = EventStore(client: postgres, logger: logger)
        var httpConfiguration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(
                connect: .milliseconds(Int64(configuration.dispatcher.connectTimeoutMilliseconds)), read: settings.requestTimeout))
        // One pool per receiver host: as many connections as one endpoint's requests in flight.
        httpConfiguration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(8, settings.concurrency)
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: httpConfiguration, backgroundActivityLogger: logger)
        let dispatcherMetrics = DispatcherMetrics(registry: metrics)
        let dispatcher = Dispatcher(
            store: store, http: http, settings: settings, metrics: dispatcherMetrics, configured: drafts, logger: logger)

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: postgres)]
        if configuration.dispatcher.metricsPort >= 0 {
            let operations = OperationsServer.build(
                host: configuration.dispatcher.metricsHost, port: configuration.dispatcher.metricsPort, metrics: metrics,
                serverName: "postwire-dispatcher-operations", logger: logger,
                refresh: {
                    if let backlogs = try? await store.backlogs() { dispatcherMetrics.record(backlogs) }
                },
                readiness: {
                    do {
                        let version = try await store.schemaVersion()
                        return version >= EventStore.latestVersion
                            ? nil : "database schema is at version \(version), this dispatcher needs \(EventStore.latestVersion)"
                    } catch {
                        return "postgresql is unreachable: \(error)"
                    }
                }, onServerRunning: onOperationsRunning)
            services.append(.init(service: operations))
        }
        services.append(.init(service: dispatcher, successTerminationBehavior: .gracefullyShutdownGroup))
        var groupConfiguration = ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        // Requests in flight finish (each bounded by its timeout); what is left is leased and
        // claimed again by another dispatcher once the lease ends.
        groupConfiguration.maximumGracefulShutdownDuration = .milliseconds(configuration.dispatcher.requestTimeoutMilliseconds + 2000)
        groupConfiguration.maximumCancellationDuration = .seconds(5)
        return ServiceGroup(configuration: groupConfiguration)
    }

    static func draft(_ endpoint: EndpointSettings, secrets: Secrets) throws(ConfigurationError) -> EndpointDraft {
        guard let secret = secrets.value(endpoint.secretVariable) else {
            throw ConfigurationError(message: "dispatcher endpoint \(endpoint.name): set \(endpoint.secretVariable) to its whsec_ secret")
        }
        let draft = EndpointDraft(
            name: endpoint.name, url: endpoint.url, description: endpoint.description ?? "", secret: secret,
            filter: EndpointFilter(
                eventTypes: endpoint.eventTypes ?? [], providers: endpoint.providers ?? [], sources: endpoint.sources ?? [],
                campaigns: endpoint.campaigns ?? [], senderDomains: endpoint.senderDomains ?? []),
            batchSize: endpoint.batchSize ?? 1, rateLimit: endpoint.rateLimit)
        do {
            try draft.validate()
        } catch {
            throw ConfigurationError(message: "dispatcher endpoint \(endpoint.name): \(error.message)")
        }
        return draft
    }
}
