import EmailEvents
import EventStore
import Logging
import PostgresNIO
import PostgresSetup
import PostwireConfig
import RedisSetup
import ServiceLifecycle
import UnixSignals

/// Assembles a worker process: the PostgreSQL client (a service that must run first and stop
/// last) and the consumer loop. The executable and the integration tests build the same group.
public enum Worker {
    public static func buildServiceGroup(
        configuration: PostwireConfiguration,
        secrets: Secrets,
        logger: Logger
    ) throws(ConfigurationError) -> (ServiceGroup, EventWorker) {
        let campaignRule: CampaignRule
        do {
            campaignRule = try CampaignRule(configuration.analytics.campaignRule)
        } catch {
            throw ConfigurationError(message: "analytics.campaignRule: \(error)")
        }
        let engagement = try configuration.analytics.engagementRules()
        let postgres = PostgresClient(
            configuration: configuration.postgres.clientConfiguration(
                password: secrets.postgresPassword,
                timeouts: (configuration.worker.statementTimeoutMilliseconds, configuration.worker.lockTimeoutMilliseconds)),
            backgroundLogger: logger
        )
        let worker = EventWorker(
            redis: try configuration.redis.clientConfiguration(
                password: secrets.redisPassword, sentinelPassword: secrets.redisSentinelPassword),
            store: EventStore(client: postgres, logger: logger, policy: try configuration.analytics.policy()),
            settings: configuration.worker,
            campaignRule: campaignRule,
            engagement: engagement,
            layout: configuration.redis.layout,
            deadLetterStream: configuration.redis.deadLetterStream,
            logger: logger
        )
        // ServiceGroup shuts down in reverse order: the worker finishes its batch while PostgreSQL
        // is still there; when the worker returns, the group ends.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: postgres)]
        if configuration.worker.metricsPort >= 0 {
            services.append(
                .init(
                    service: worker.operationsServer(
                        host: configuration.worker.metricsHost, port: configuration.worker.metricsPort,
                        quarantineStream: configuration.redis.quarantineStream)))
        }
        services.append(.init(service: worker, successTerminationBehavior: .gracefullyShutdownGroup))
        var groupConfiguration = ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        // A batch whose commit hangs must not keep the process past its container's grace period:
        // cancelled, its entries stay pending and another worker reclaims them.
        groupConfiguration.maximumGracefulShutdownDuration = .milliseconds(max(1, configuration.worker.shutdownTimeoutMilliseconds))
        groupConfiguration.maximumCancellationDuration = .seconds(5)
        let group = ServiceGroup(configuration: groupConfiguration)
        return (group, worker)
    }
}

extension AnalyticsSettings {
    /// The engagement rules the worker classifies opens and clicks by; a bad range, an unknown
    /// event or an empty name or substring is a configuration error.
    public func engagementRules() throws(ConfigurationError) -> EngagementRules {
        func events(_ names: [String]?, _ setting: String) throws(ConfigurationError) -> Set<EventType> {
            guard let names else { return [.opened, .clicked] }
            var types = Set<EventType>()
            for name in names {
                guard let type = EventType(rawValue: name), type == .opened || type == .clicked else {
                    throw ConfigurationError(message: "analytics.\(setting): events are opened or clicked, not \(name)")
                }
                types.insert(type)
            }
            guard !types.isEmpty else { throw ConfigurationError(message: "analytics.\(setting): events is empty") }
            return types
        }
        var agents = knownMachineUserAgents ? EngagementRules.knownUserAgents : []
        for agent in machineUserAgents {
            guard !agent.name.isEmpty, !agent.contains.isEmpty else {
                throw ConfigurationError(message: "analytics.machineUserAgents: every entry needs a name and a non-empty contains")
            }
            agents.append(.init(name: agent.name, substring: agent.contains, appliesTo: try events(agent.events, "machineUserAgents")))
        }
        var networks: [EngagementRules.NetworkRule] = []
        for network in machineNetworks {
            guard !network.name.isEmpty, !network.ranges.isEmpty else {
                throw ConfigurationError(message: "analytics.machineNetworks: every entry needs a name and ranges")
            }
            let ranges: IPAllowlist
            do {
                ranges = try IPAllowlist(network.ranges)
            } catch {
                throw ConfigurationError(message: "analytics.machineNetworks \(network.name): \(error)")
            }
            networks.append(.init(name: network.name, ranges: ranges, appliesTo: try events(network.events, "machineNetworks")))
        }
        return EngagementRules(userAgents: agents, networks: networks, dropClientDetails: dropClientDetails)
    }

    /// The rules the batch write applies; a bad mailbox-provider pattern is a configuration error.
    public func policy() throws(ConfigurationError) -> AnalyticsPolicy {
        let rules =
            mailboxProviders.map { MailboxProviders.Rule(provider: $0.provider, patterns: $0.domains) }
            + (knownMailboxProviders ? MailboxProviders.known : [])
        let providers: MailboxProviders
        do {
            providers = try MailboxProviders(rules)
        } catch {
            throw ConfigurationError(message: "analytics.mailboxProviders: \(error)")
        }
        for (name, value, limit) in [
            ("scannerClickSeconds", scannerClickSeconds, 86400.0), ("clickBurstSeconds", clickBurstSeconds, 3600),
            ("clickBurstCount", Double(clickBurstCount), 1000),
        ] where !(value.isFinite && value >= 0 && value <= limit) {
            throw ConfigurationError(message: "analytics.\(name) must be between 0 (off) and \(Int(limit)), not \(value)")
        }
        return AnalyticsPolicy(
            softBounceLimit: softBounceLimit, softBounceWindowDays: softBounceWindowDays,
            complaintRateThreshold: complaintRateThreshold, bounceRateThreshold: bounceRateThreshold,
            alertWindowHours: alertWindowHours, alertMinimumVolume: alertMinimumVolume, mailboxProviders: providers,
            scannerClickSeconds: scannerClickSeconds, clickBurstCount: clickBurstCount, clickBurstSeconds: clickBurstSeconds)
    }
}
