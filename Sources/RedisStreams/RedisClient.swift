import Logging
import NIOCore
import NIOPosix

/// Postwire's Redis client, for any of the three topologies: one server, a master behind
/// sentinels, or a cluster. Each server gets a small fixed set of shared connections, made on
/// first use and remade after they close, so the client outlives restarts and failovers without
/// being rebuilt; concurrent callers are pipelined over them.
///
/// Every command that touches a key says which (`routedBy`): on a cluster that picks the master.
/// One call's commands must share a slot (see ``ClusterRouter``).
///
/// Blocking commands (`XREADGROUP … BLOCK`) hold their connection: give them a client of their
/// own (`connections: 1`) rather than sharing one with request traffic.
public final class RedisClient: Sendable {
    public let configuration: RedisConfiguration

    private enum Router: Sendable {
        case standalone(NodePool)
        case sentinel(SentinelRouter)
        case cluster(ClusterRouter)
    }

    private let router: Router

    public init(
        configuration: RedisConfiguration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "postwire.redis")
    ) {
        self.configuration = configuration
        switch configuration.topology {
        case .standalone:
            router = .standalone(NodePool(node: configuration.node, configuration: configuration, purpose: .data, group: group))
        case .sentinel(let masterName, let sentinels):
            router = .sentinel(
                SentinelRouter(configuration: configuration, masterName: masterName, sentinels: sentinels, group: group, logger: logger))
        case .cluster(let seeds):
            router = .cluster(ClusterRouter(configuration: configuration, seeds: seeds, group: group, logger: logger))
        }
    }

    /// Sends commands on one connection, pipelined, and returns their replies in order (error
    /// replies as `.error` values). `key` routes them on a cluster; with `acknowledgement`, a
    /// `WAIT` follows them and too few replicas throw ``RedisError/Code/notReplicated``.
    public func send(
        _ commands: [RedisCommand], routedBy key: String? = nil, acknowledgement: ReplicaAcknowledgement? = nil,
        timeout: TimeAmount? = nil
    ) async throws(RedisError) -> [RESPValue] {
        var pipeline = commands
        var timeout = timeout
        if let acknowledgement {
            pipeline.append(acknowledgement.command)
            timeout = acknowledgement.timeout + (timeout ?? configuration.commandTimeout)
        }
        var replies: [RESPValue]
        switch router {
        case .standalone(let pool): replies = try await pool.send(pipeline, timeout: timeout)
        case .sentinel(let router): replies = try await router.send(pipeline, timeout: timeout)
        case .cluster(let router): replies = try await router.send(pipeline, slot: key.map(HashSlot.of), timeout: timeout)
        }
        return try acknowledgement?.check(&replies) ?? replies
    }

    /// Sends one command; an error reply is thrown.
    public func send(_ command: RedisCommand, routedBy key: String? = nil, timeout: TimeAmount? = nil) async throws(RedisError) -> RESPValue
    {
        let reply = try await send([command], routedBy: key, timeout: timeout)[0]
        if case .error(let message) = reply { throw RedisError(.server, message) }
        return reply
    }

    /// The server that holds `key` now: the one server, the current master, or the key's master.
    public func node(for key: String) async throws(RedisError) -> RedisNode {
        switch router {
        case .standalone(let pool): return pool.node
        case .sentinel(let router): return try await router.currentMaster()
        case .cluster(let router): return try await router.owner(of: HashSlot.of(key))
        }
    }

    /// Closes every connection. Further calls fail.
    public func close() async {
        switch router {
        case .standalone(let pool): await pool.close()
        case .sentinel(let router): await router.close()
        case .cluster(let router): await router.close()
        }
    }
}
