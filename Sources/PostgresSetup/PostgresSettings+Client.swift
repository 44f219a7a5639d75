import PostgresNIO
import PostwireConfig

extension PostgresSettings {
    /// The PostgresNIO client configuration these settings describe; `timeouts` sets the worker's
    /// `statement_timeout` and `lock_timeout` (milliseconds, 0 for none) on every session.
    public func clientConfiguration(password: String?, timeouts: (statement: Int, lock: Int)? = nil) -> PostgresClient.Configuration {
        var configuration = PostgresClient.Configuration(
            host: host,
            port: port,
            username: user,
            password: password,
            database: database,
            tls: tls == "require" ? .require(.makeClientConfiguration()) : .disable
        )
        configuration.options.maximumConnections = max(1, maxConnections)
        configuration.options.connectTimeout = .seconds(5)
        if let timeouts {
            configuration.options.additionalStartupParameters = [
                ("statement_timeout", "\(max(0, timeouts.statement))"), ("lock_timeout", "\(max(0, timeouts.lock))"),
            ]
        }
        return configuration
    }
}
