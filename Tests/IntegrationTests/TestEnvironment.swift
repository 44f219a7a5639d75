import EventStore
import Foundation
import Logging
import PostgresNIO
import PostwireConfig
import RedisStreams
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Where the real servers are. Scripts/test starts them and exports the ports; the defaults match it.
enum TestEnvironment {
    static let environment = ProcessInfo.processInfo.environment
    static let redisPort = Int(environment["POSTWIRE_TEST_REDIS_PORT"] ?? "") ?? 16380
    static let postgresPort = Int(environment["POSTWIRE_TEST_POSTGRES_PORT"] ?? "") ?? 15433
    static let postgresPassword = environment["POSTWIRE_TEST_POSTGRES_PASSWORD"] ?? "postwire-test"
    static let logger: Logger = {
        var logger = Logger(label: "postwire.tests")
        logger.logLevel = Logger.Level(rawValue: environment["POSTWIRE_TEST_LOG_LEVEL"] ?? "") ?? .warning
        return logger
    }()

    /// Built executables (Scripts/test exports `swift build --show-bin-path`).
    static var binDirectory: URL {
        if let dir = environment["POSTWIRE_BIN_DIR"] { return URL(fileURLWithPath: dir) }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug")
    }

    static func unique(_ prefix: String) -> String {
        "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// A configuration whose stream names, group and database are this test's own.
    static func configuration(database: String, redisPort: Int = redisPort) -> PostwireConfiguration {
        let tag = unique("t")
        var configuration = PostwireConfiguration()
        configuration.redis.port = redisPort
        configuration.redis.stream = "postwire:\(tag):events"
        configuration.redis.quarantineStream = "postwire:\(tag):quarantine"
        configuration.redis.deadLetterStream = "postwire:\(tag):dead"
        configuration.redis.replayGuardPrefix = "postwire:\(tag):seen:"
        configuration.redis.rateLimitPrefix = "postwire:\(tag):rl:"
        configuration.redis.quarantineBudgetPrefix = "postwire:\(tag):qb:"
        configuration.postgres.port = postgresPort
        configuration.postgres.database = database
        configuration.ingress.host = "127.0.0.1"
        configuration.ingress.port = 0
        configuration.ingress.metricsPort = -1  // tests that scrape metrics turn it on (port 0)
        configuration.worker.metricsPort = -1
        configuration.worker.blockMilliseconds = 200
        configuration.worker.claimIntervalMilliseconds = 500
        configuration.worker.claimMinIdleMilliseconds = 2000
        configuration.worker.backoffMilliseconds = 100
        configuration.worker.maxBackoffMilliseconds = 1000
        return configuration
    }

    /// The environment of a child process (a real `postwire-ingress` or `postwire-worker`) that
    /// runs with `configuration`: every setting that differs from the defaults as its documented
    /// POSTWIRE_* variable, the test PostgreSQL password, `extra` last.
    static func childEnvironment(_ configuration: PostwireConfiguration, _ extra: [String: String] = [:]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment.merge(ConfigurationLoader.environment(for: configuration)) { _, setting in setting }
        environment["POSTWIRE_POSTGRES_PASSWORD"] = postgresPassword
        environment["POSTWIRE_LOG_LEVEL"] = "warning"
        environment.merge(extra) { _, given in given }
        return environment
    }

    static func redis(port: Int = redisPort) -> RedisClient {
        RedisClient(configuration: RedisConfiguration(port: port, connections: 2), logger: logger)
    }

    static func postgresConfiguration(database: String, port: Int = postgresPort) -> PostgresClient.Configuration {
        var configuration = PostgresClient.Configuration(
            host: "127.0.0.1", port: port, username: "postwire", password: postgresPassword, database: database, tls: .disable)
        configuration.options.connectTimeout = .seconds(1)
        return configuration
    }

    /// Runs `body` with a fresh, migrated database of its own, dropped afterwards.
    static func withDatabase<T: Sendable>(_ body: @Sendable (String, EventStore) async throws -> T) async throws -> T {
        let name = "pwtest_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
        try await withClient(database: "postgres") { admin in
            try await admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
        }
        do {
            let result = try await withClient(database: name) { client in
                let store = EventStore(client: client, logger: logger)
                try await store.migrate()
                return try await body(name, store)
            }
            try? await dropDatabase(name)
            return result
        } catch {
            try? await dropDatabase(name)
            throw error
        }
    }

    static func dropDatabase(_ name: String) async throws {
        try await withClient(database: "postgres") { admin in
            try await admin.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger)
        }
    }

    /// A running PostgresClient for the duration of `body`.
    static func withClient<T: Sendable>(
        database: String, port: Int = postgresPort, _ body: @Sendable (PostgresClient) async throws -> T
    ) async throws -> T {
        let client = PostgresClient(configuration: postgresConfiguration(database: database, port: port), backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                await client.run()
                return nil
            }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    /// The real `postwire` CLI against a test database: its exit status, standard output and error.
    static func cli(_ arguments: [String], database: String) async throws -> (code: Int32, output: String, errors: String) {
        var environment = ProcessInfo.processInfo.environment
        environment["POSTWIRE_POSTGRES_PORT"] = "\(postgresPort)"
        environment["POSTWIRE_POSTGRES_DATABASE"] = database
        environment["POSTWIRE_POSTGRES_PASSWORD"] = postgresPassword
        let output = "/tmp/" + unique("cli") + ".out"
        let child = try ChildProcess.spawn(
            binDirectory.appendingPathComponent("postwire").path, arguments, environment: environment, logPath: output + ".err",
            stdoutPath: output)
        let ended = try await child.wait()
        defer { for path in [output, output + ".err"] { try? FileManager.default.removeItem(atPath: path) } }
        return (
            ended.code, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "",
            (try? String(contentsOfFile: output + ".err", encoding: .utf8)) ?? ""
        )
    }

    /// Polls `condition` until it holds or `timeout` passes.
    static func eventually(timeout: Duration = .seconds(30), _ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("timed out after \(timeout) waiting for: \(what)")
        throw CancellationError()
    }
}

/// Plain HTTP against a running ingress.
enum HTTP {
    struct Reply {
        var status: Int
        var body: String
        var headers: [String: String]
    }

    static func request(_ url: String, method: String = "POST", headers: [String: String] = [:], body: [UInt8] = []) async throws -> Reply {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if method == "POST" { request.httpBody = Data(body) }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        var fields: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            if let name = name as? String, let value = value as? String { fields[name.lowercased()] = value }
        }
        return Reply(status: http.statusCode, body: String(decoding: data, as: UTF8.self), headers: fields)
    }
}
