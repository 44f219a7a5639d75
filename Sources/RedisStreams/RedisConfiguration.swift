import NIOCore

public struct RedisConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var username: String?
    /// Sent with AUTH after connecting; never logged.
    public var password: String?
    public var database: Int
    /// Connections a ``RedisClient`` keeps; concurrent callers are pipelined over them.
    public var connections: Int
    public var connectTimeout: TimeAmount
    /// How long a command may wait for its reply before the connection is deemed stuck.
    /// Blocking reads pass their own, longer timeout.
    public var commandTimeout: TimeAmount

    public init(
        host: String = "127.0.0.1",
        port: Int = 6379,
        username: String? = nil,
        password: String? = nil,
        database: Int = 0,
        connections: Int = 4,
        connectTimeout: TimeAmount = .seconds(2),
        commandTimeout: TimeAmount = .seconds(5)
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.connections = max(1, connections)
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
    }
}
