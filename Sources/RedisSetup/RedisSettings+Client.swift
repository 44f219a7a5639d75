import NIOCore
import PostwireConfig
import RedisStreams

extension RedisSettings {
    /// The RedisStreams configuration these settings describe; throws when the topology's settings
    /// do not make sense (an unknown topology, a node that is not `host:port`, a cluster with one
    /// stream shard).
    public func clientConfiguration(
        password: String?, sentinelPassword: String? = nil, connections: Int? = nil
    ) throws(ConfigurationError) -> RedisConfiguration {
        RedisConfiguration(
            host: host,
            port: port,
            topology: try redisTopology(),
            username: username.isEmpty ? nil : username,
            password: password,
            sentinelUsername: sentinelUsername.isEmpty ? nil : sentinelUsername,
            sentinelPassword: sentinelPassword,
            database: database,
            connections: connections ?? self.connections,
            connectTimeout: .milliseconds(Int64(connectTimeoutMilliseconds)),
            commandTimeout: .milliseconds(Int64(commandTimeoutMilliseconds))
        )
    }

    public func redisTopology() throws(ConfigurationError) -> RedisTopology {
        guard replicasToAcknowledge >= 0, acknowledgeTimeoutMilliseconds > 0 else {
            throw ConfigurationError(
                message: "redis.replicasToAcknowledge must be 0 or more and redis.acknowledgeTimeoutMilliseconds more than 0")
        }
        switch topology {
        case "standalone":
            return .standalone
        case "sentinel":
            guard !masterName.isEmpty else { throw ConfigurationError(message: "redis.masterName is empty (topology sentinel)") }
            return .sentinel(masterName: masterName, sentinels: try Self.nodes(sentinels, key: "redis.sentinels", defaultPort: 26379))
        case "cluster":
            guard streamShards >= 2 else {
                throw ConfigurationError(
                    message: "redis.streamShards is \(streamShards); on a cluster it must be at least 2 (a few per master spreads the load)"
                )
            }
            guard database == 0 else { throw ConfigurationError(message: "redis.database must be 0 on a cluster (it has only database 0)") }
            return .cluster(seeds: try Self.nodes(clusterNodes, key: "redis.clusterNodes", defaultPort: 6379))
        default:
            throw ConfigurationError(message: "redis.topology is '\(topology)'; it must be standalone, sentinel or cluster")
        }
    }

    private static func nodes(_ list: [String], key: String, defaultPort: Int) throws(ConfigurationError) -> [RedisNode] {
        guard !list.isEmpty else { throw ConfigurationError(message: "\(key) is empty: name at least one host:port") }
        return try list.map { text throws(ConfigurationError) in
            guard let node = RedisNode(parsing: Substring(text), defaultPort: defaultPort) else {
                throw ConfigurationError(message: "\(key) has '\(text)', which is not host:port")
            }
            return node
        }
    }

    /// `WAIT`'s parameters, when the ingress must wait for replicas.
    public var acknowledgement: ReplicaAcknowledgement? {
        replicasToAcknowledge > 0
            ? ReplicaAcknowledgement(replicas: replicasToAcknowledge, timeout: .milliseconds(Int64(acknowledgeTimeoutMilliseconds)))
            : nil
    }
}

extension RedisSettings {
    /// The events stream(s) and replay-guard key names these settings describe.
    public var layout: StreamLayout {
        StreamLayout(base: stream, shards: streamShards, guardPrefix: replayGuardPrefix)
    }
}
