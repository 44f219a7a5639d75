import NIOCore

/// One Redis server's address.
public struct RedisNode: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `host:port`, `[v6]:port` or `host` (then `defaultPort`); nil when it is none of these.
    public init?(parsing text: Substring, defaultPort: Int) {
        var host = text.drop(while: \.isWhitespace)
        while host.last?.isWhitespace == true { host = host.dropLast() }
        var port = defaultPort
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            let rest = host[host.index(after: close)...]
            if rest.hasPrefix(":") {
                guard let parsed = Int(rest.dropFirst()) else { return nil }
                port = parsed
            } else if !rest.isEmpty {
                return nil
            }
            host = host[host.index(after: host.startIndex)..<close]
        } else if let colon = host.lastIndex(of: ":"), host.firstIndex(of: ":") == colon {
            guard let parsed = Int(host[host.index(after: colon)...]) else { return nil }
            port = parsed
            host = host[..<colon]
        }
        guard !host.isEmpty, !host.contains(where: \.isWhitespace), (1...65535).contains(port) else { return nil }
        self.init(host: String(host), port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// How the client finds the server that owns a key.
public enum RedisTopology: Sendable, Equatable {
    /// One server (`RedisConfiguration.host`/`port`).
    case standalone
    /// The master of `masterName`, as the sentinels report it; followed across failovers.
    case sentinel(masterName: String, sentinels: [RedisNode])
    /// A Redis Cluster, discovered from any of the seeds; every command goes to its key's master.
    case cluster(seeds: [RedisNode])
}

public struct RedisConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var topology: RedisTopology
    public var username: String?
    /// Sent with AUTH after connecting; never logged. Used for every node of a cluster or a sentinel set-up.
    public var password: String?
    /// The sentinels' own credentials (they may differ from the data nodes').
    public var sentinelUsername: String?
    public var sentinelPassword: String?
    public var database: Int
    /// Connections a ``RedisClient`` keeps to each server; concurrent callers are pipelined over them.
    public var connections: Int
    public var connectTimeout: TimeAmount
    /// How long a command may wait for its reply before the connection is deemed stuck.
    /// Blocking reads pass their own, longer timeout.
    public var commandTimeout: TimeAmount

    public init(
        host: String = "127.0.0.1",
        port: Int = 6379,
        topology: RedisTopology = .standalone,
        username: String? = nil,
        password: String? = nil,
        sentinelUsername: String? = nil,
        sentinelPassword: String? = nil,
        database: Int = 0,
        connections: Int = 4,
        connectTimeout: TimeAmount = .seconds(2),
        commandTimeout: TimeAmount = .seconds(5)
    ) {
        self.host = host
        self.port = port
        self.topology = topology
        self.username = username
        self.password = password
        self.sentinelUsername = sentinelUsername
        self.sentinelPassword = sentinelPassword
        self.database = database
        self.connections = max(1, connections)
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
    }

    public var node: RedisNode { RedisNode(host: host, port: port) }

    /// Where Redis is, for messages: `host:port`, the sentinels' master, or the cluster's seeds.
    public var endpointDescription: String {
        switch topology {
        case .standalone: "\(node)"
        case .sentinel(let masterName, let sentinels):
            "master \(masterName) via sentinels \(sentinels.map(\.description).joined(separator: ","))"
        case .cluster(let seeds): "cluster \(seeds.map(\.description).joined(separator: ","))"
        }
    }
}

/// `WAIT replicas timeout` after a write: the write counts as stored only once that many replicas
/// have it. Redis has no rollback: a write that timed out is still on the master (and may reach
/// the replicas later), so the caller must treat it as "unknown", as after a lost connection.
public struct ReplicaAcknowledgement: Sendable, Equatable {
    public var replicas: Int
    public var timeout: TimeAmount

    public init(replicas: Int, timeout: TimeAmount) {
        self.replicas = replicas
        self.timeout = timeout
    }
}
