import NIOCore
import PostwireConfig
import RedisStreams

extension RedisSettings {
    /// The RedisStreams configuration these settings describe.
    public func clientConfiguration(password: String?, connections: Int? = nil) -> RedisConfiguration {
        RedisConfiguration(
            host: host,
            port: port,
            username: username.isEmpty ? nil : username,
            password: password,
            database: database,
            connections: connections ?? self.connections,
            connectTimeout: .milliseconds(Int64(connectTimeoutMilliseconds)),
            commandTimeout: .milliseconds(Int64(commandTimeoutMilliseconds))
        )
    }
}

extension RedisSettings {
    /// The events stream(s) and replay-guard key names these settings describe.
    public var layout: StreamLayout {
        StreamLayout(base: stream, shards: streamShards, guardPrefix: replayGuardPrefix)
    }
}
