import PostgresNIO
import PostwireConfig

extension PostgresSettings {
    /// The PostgresNIO client configuration these settings describe.
    public func clientConfiguration(password: String?) -> PostgresClient.Configuration {
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
        return configuration
    }
}
