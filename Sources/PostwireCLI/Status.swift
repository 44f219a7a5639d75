import ArgumentParser
import EventStore
import Foundation
import OperatorTools
import PostgresNIO
import PostgresSetup
import PostwireConfig
import RedisSetup
import RedisStreams
import WorkerApp

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the streams, consumer groups, pending entries, dead letters and the last hour's throughput.",
        discussion: """
            Reads Redis (and PostgreSQL for the events stored in the last hour). Whatever does not answer \
            within --timeout is reported as unreadable and the rest is shown; the exit status is then 1. \
            --watch redraws it every --interval seconds until Ctrl-C.
            """
    )

    @OptionGroup var options: ConfigOption

    @Flag(help: "Refresh until interrupted.")
    var watch = false

    @Option(help: "Seconds between refreshes with --watch.")
    var interval: Double = 2

    @Option(help: "Seconds to wait for Redis, and then for PostgreSQL, before reporting it unreadable.")
    var timeout: Double = 5

    func validate() throws {
        guard interval >= 0.2 else { throw ValidationError("--interval must be at least 0.2 seconds") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
    }

    func run() async throws {
        let (configuration, secrets, logger) = Bootstrap.start(label: "postwire.status", configFile: options.config)
        var quiet = logger
        quiet.logLevel = .critical  // a failed PostgreSQL connection is reported in the table, not as a log line
        let redis = RedisClient(
            configuration: try configuration.redis.clientConfiguration(
                password: secrets.redisPassword, sentinelPassword: secrets.redisSentinelPassword, connections: 1), logger: quiet)
        let client = PostgresClient(
            configuration: configuration.postgres.clientConfiguration(password: secrets.postgresPassword), backgroundLogger: quiet)
        let store = EventStore(client: client, logger: quiet)
        let terminal = isatty(STDOUT_FILENO) != 0
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            var complete = true
            repeat {
                var report = await StatusReport.gather(
                    redis: redis, store: store, layout: configuration.redis.layout,
                    deadLetterStream: configuration.redis.deadLetterStream, quarantineStream: configuration.redis.quarantineStream,
                    timeout: .milliseconds(Int64(timeout * 1000)))
                if let error = report.redisError {
                    report.redisError = "\(redis.configuration.endpointDescription): \(error)"
                }
                complete = report.isComplete
                // Clear the screen between refreshes on a terminal; append otherwise (logs, pipes).
                print((watch && terminal ? "\u{1B}[H\u{1B}[2J" : "") + report.render(), terminator: "")
                if watch { try await Task.sleep(for: .milliseconds(Int(interval * 1000))) }
            } while watch
            if !complete { throw ExitCode(1) }
        }
        await redis.close()
    }
}
