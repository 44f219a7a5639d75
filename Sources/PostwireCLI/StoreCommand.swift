import EventStore
import Logging
import PostgresNIO
import PostgresSetup
import PostwireConfig
import WorkerApp

/// Runs `body` with an EventStore whose client runs for the duration (the CLI's PostgreSQL commands).
func withStore<T: Sendable>(
    label: String, configFile: String?, _ body: @Sendable (EventStore, PostwireConfiguration, Secrets) async throws -> T
) async throws -> T {
    let (configuration, secrets, logger) = Bootstrap.start(label: label, configFile: configFile)
    // The client may log that a lease waits for `run()` to start: true, and not worth a warning here.
    var background = logger
    background.logLevel = .error
    let client = PostgresClient(
        configuration: configuration.postgres.clientConfiguration(password: secrets.postgresPassword), backgroundLogger: background)
    let store = EventStore(client: client, logger: logger, policy: try configuration.analytics.policy())
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            await client.run()
            return nil
        }
        defer { group.cancelAll() }
        return try await body(store, configuration, secrets)
    }
}
