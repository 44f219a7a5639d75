import EventStore
import Foundation
import NIOCore
import PostgresNIO
import PostwireConfig
import ProviderSamples
import Providers
import Testing

@testable import RedisStreams

#if canImport(Glibc)
    import Glibc
#endif

/// What a container runtime needs of the binaries, checked on the host without a Docker engine:
/// they work as an unprivileged user, their Redis connections set only TCP_NODELAY, their health
/// check tells the truth, and `migrate` needs no more than a database owner's privileges.
@Suite(.serialized) struct ContainerContractTests {
    /// Socket options of a live Redis connection, read back from the kernel with getsockopt.
    @Test func redisConnectionsDisableNagleAndSetNothingElse() async throws {
        let connection = try await RedisConnection.connect(to: RedisConfiguration(port: TestEnvironment.redisPort))
        defer { connection.close() }
        let noDelay = try await connection.channel.getOption(ChannelOptions.Types.SocketOption(level: .tcp, name: .tcp_nodelay))
        let debug = try await connection.channel.getOption(
            ChannelOptions.Types.SocketOption(level: .socket, name: NIOBSDSocket.Option(rawValue: SO_DEBUG)))
        #expect(noDelay != 0, "TCP_NODELAY must be on for every Redis connection")
        #expect(debug == 0, "SO_DEBUG must not be set: it needs CAP_NET_ADMIN, which a container does not have")
        // Nothing else differs from what a new TCP socket has.
        let fresh = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fresh) }
        for (level, name, label) in [
            (SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE"), (SOL_SOCKET, SO_DONTROUTE, "SO_DONTROUTE"),
            (SOL_SOCKET, SO_BROADCAST, "SO_BROADCAST"), (SOL_SOCKET, SO_OOBINLINE, "SO_OOBINLINE"),
            (SOL_SOCKET, SO_PRIORITY, "SO_PRIORITY"), (Int32(IPPROTO_TCP), TCP_CORK, "TCP_CORK"),
            (Int32(IPPROTO_TCP), TCP_QUICKACK, "TCP_QUICKACK"),
        ] {
            var expected: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fresh, level, name, &expected, &length)
            let actual = try await connection.channel.getOption(
                ChannelOptions.Types.SocketOption(
                    level: NIOBSDSocket.OptionLevel(rawValue: level), name: NIOBSDSocket.Option(rawValue: name)))
            #expect(actual == expected, "\(label) is \(actual), a new socket has \(expected)")
        }
    }

    /// The ingress and the worker as uid/gid 65534 (nobody), as in a container's USER: a signed
    /// webhook is answered 200 and committed to PostgreSQL.
    @Test func ingressAndWorkerRunAsAnUnprivilegedUser() async throws {
        try await TestEnvironment.withDatabase { database, store in
            var configuration = TestEnvironment.configuration(database: database)
            // The build folder may not be readable by nobody: run copies from a folder that is.
            let folder = try Self.unprivilegedCopies(["postwire-ingress", "postwire-worker"])
            defer { try? FileManager.default.removeItem(atPath: folder) }

            let port = TestEnvironment.freePort()
            configuration.ingress.port = port
            configuration.ingress.metricsPort = 0
            configuration.sources = [SourceSettings(provider: "mailgun", name: "default")]
            var environment = WorkerCrashTests.workerEnvironment(configuration, consumer: "nobody")
            environment["HOME"] = "/nonexistent"
            environment["POSTWIRE_SECRET_MAILGUN_DEFAULT"] = PipelineTests.mailgunKey
            let ingress = try Self.spawnAsNobody("\(folder)/postwire-ingress", environment: environment, log: "\(folder)/ingress.log")
            defer { ingress.signal(SIGKILL) }
            let worker = try Self.spawnAsNobody("\(folder)/postwire-worker", environment: environment, log: "\(folder)/worker.log")
            defer { worker.signal(SIGKILL) }
            try await TestEnvironment.eventually("the unprivileged ingress answers") {
                (try? await HTTP.request("http://127.0.0.1:\(port)/healthz", method: "GET").status) == 200
            }
            #expect(try Self.uid(of: ingress.pid) == 65534 && Self.uid(of: worker.pid) == 65534)

            let sample = SampleEvent(
                espEvent: "delivered", id: TestEnvironment.unique("nobody"), recipient: "a@example.com", occurredAt: Date())
            let webhook = SampleWebhooks.mailgun(sample, signingKey: PipelineTests.mailgunKey, signedAt: Date())
            let reply = try await HTTP.request("http://127.0.0.1:\(port)/webhooks/mailgun", headers: webhook.headers, body: webhook.body)
            let log = (try? String(contentsOfFile: "\(folder)/ingress.log", encoding: .utf8)) ?? ""
            #expect(reply.status == 200, "as nobody: \(reply.status) \(reply.body); ingress log: \(log.suffix(600))")
            try await TestEnvironment.eventually("the unprivileged worker commits the event") {
                try await store.eventCount() == 1
            }
        }
    }

    /// `--check-health` asks the running process's configured operations port: healthy while Redis
    /// (and, for the worker, PostgreSQL) answers, unhealthy once Redis is stopped.
    @Test func healthCheckReportsUnhealthyWithRedisStopped() async throws {
        try await TestEnvironment.withDatabase { database, _ in
            let redisPort = TestEnvironment.freePort()
            let redisServer = try await RedisServerProcess.start(port: redisPort)
            var configuration = TestEnvironment.configuration(database: database, redisPort: redisPort)
            configuration.ingress.port = TestEnvironment.freePort()
            configuration.ingress.metricsHost = "0.0.0.0"
            configuration.ingress.metricsPort = TestEnvironment.freePort()
            configuration.worker.metricsHost = "127.0.0.1"
            configuration.worker.metricsPort = TestEnvironment.freePort()
            configuration.sources = [SourceSettings(provider: "mailgun", name: "default")]
            let environment = TestEnvironment.childEnvironment(
                configuration, ["POSTWIRE_WORKER_CONSUMER": "health", "POSTWIRE_SECRET_MAILGUN_DEFAULT": "health-key"])
            var running: [ChildProcess] = []
            defer { for child in running { child.signal(SIGKILL) } }
            for binary in ["postwire-ingress", "postwire-worker"] {
                running.append(
                    try ChildProcess.spawn(TestEnvironment.binDirectory.appendingPathComponent(binary).path, [], environment: environment))
            }
            for binary in ["postwire-ingress", "postwire-worker"] {
                try await TestEnvironment.eventually("\(binary) --check-health says healthy") {
                    try await Self.checkHealth(binary, environment: environment).code == 0
                }
            }
            await redisServer.stop()
            for binary in ["postwire-ingress", "postwire-worker"] {
                try await TestEnvironment.eventually("\(binary) --check-health says unhealthy with Redis stopped") {
                    let (code, output) = try await Self.checkHealth(binary, environment: environment)
                    return code == 1 && output.contains("unhealthy") && output.contains("redis")
                }
            }
            // With the process gone, the check fails too (nothing answers on the port).
            for child in running { child.signal(SIGKILL) }
            #expect(try await Self.checkHealth("postwire-ingress", environment: environment).code == 1)
        }
    }

    /// `postwire migrate` as the owner of its database without CREATEROLE: the schema is migrated,
    /// and the analyst role is granted when someone else made it, else skipped with what to run.
    @Test func migrateWorksAsADatabaseOwnerWithoutCreateRole() async throws {
        let tag = UUID().uuidString.prefix(8).lowercased()
        let (owner, database, analyst) = ("pwowner_\(tag)", "pwowner_db_\(tag)", "pwanalyst_\(tag)")
        try await TestEnvironment.withClient(database: "postgres") { admin in
            try await admin.query(
                PostgresQuery(unsafeSQL: "CREATE ROLE \(owner) LOGIN PASSWORD 'owner-pw' NOCREATEROLE NOSUPERUSER"),
                logger: TestEnvironment.logger)
            try await admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(database) OWNER \(owner)"), logger: TestEnvironment.logger)
        }
        defer {
            Task {
                try? await TestEnvironment.dropDatabase(database)
                try? await TestEnvironment.withClient(database: "postgres") { admin in
                    for role in [owner, analyst] {
                        try await admin.query(PostgresQuery(unsafeSQL: "DROP ROLE IF EXISTS \(role)"), logger: TestEnvironment.logger)
                    }
                }
            }
        }
        var environment = ProcessInfo.processInfo.environment
        environment["POSTWIRE_POSTGRES_PORT"] = "\(TestEnvironment.postgresPort)"
        environment["POSTWIRE_POSTGRES_USER"] = owner
        environment["POSTWIRE_POSTGRES_PASSWORD"] = "owner-pw"
        environment["POSTWIRE_POSTGRES_DATABASE"] = database
        environment["POSTWIRE_ANALYST_PASSWORD"] = "analyst-pw"
        let output = NSTemporaryDirectory() + "migrate-\(tag).out"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let migrate = try ChildProcess.spawn(
            TestEnvironment.binDirectory.appendingPathComponent("postwire").path, ["migrate"], environment: environment,
            logPath: output + ".err", stdoutPath: output)
        let ended = try await migrate.wait(timeout: .seconds(60))
        let printed = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        let errors = (try? String(contentsOfFile: output + ".err", encoding: .utf8)) ?? ""
        #expect(ended.exited && ended.code == 0, "migrate as \(owner): \(printed) \(errors)")
        #expect(printed.contains("schema is at version \(EventStore.latestVersion)"), "\(printed)")
        // Whether postwire_analyst exists in this cluster depends on other tests: either way it is said.
        #expect(printed.contains("postwire_analyst"), "\(printed)")

        var ownerConfiguration = TestEnvironment.postgresConfiguration(database: database)
        ownerConfiguration.username = owner
        ownerConfiguration.password = "owner-pw"
        let client = PostgresClient(configuration: ownerConfiguration, backgroundLogger: TestEnvironment.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            let store = EventStore(client: client, logger: TestEnvironment.logger)
            guard case .skipped(let sql) = try await store.grantAnalystRole(analyst) else {
                Issue.record("a role that does not exist cannot be granted by an owner without CREATEROLE")
                return
            }
            #expect(sql.contains("CREATE ROLE \(analyst)"))
            try await TestEnvironment.withClient(database: "postgres") { admin in
                try await admin.query(PostgresQuery(unsafeSQL: "CREATE ROLE \(analyst) LOGIN"), logger: TestEnvironment.logger)
            }
            #expect(try await store.grantAnalystRole(analyst) == .granted(created: false))
            let readable = try await client.query(
                PostgresQuery(unsafeSQL: "SELECT has_table_privilege('\(analyst)', 'email_events', 'SELECT')"),
                logger: TestEnvironment.logger
            ).decode(Bool.self).first { _ in true }
            #expect(readable == true)
        }
    }

    // MARK: - helpers

    static func unprivilegedCopies(_ binaries: [String]) throws -> String {
        let folder = "/tmp/postwire-nobody-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        for binary in binaries {
            let target = "\(folder)/\(binary)"
            try FileManager.default.copyItem(atPath: TestEnvironment.binDirectory.appendingPathComponent(binary).path, toPath: target)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: target)
        }
        return folder
    }

    static func spawnAsNobody(_ path: String, environment: [String: String], log: String) throws -> ChildProcess {
        try ChildProcess.spawn(
            "/usr/bin/setpriv", ["--reuid", "65534", "--regid", "65534", "--clear-groups", "--", path], environment: environment,
            logPath: log)
    }

    static func uid(of pid: pid_t) throws -> Int? {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = status.split(separator: "\n").first { $0.hasPrefix("Uid:") }
        return line?.split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().first.flatMap { Int($0) }
    }

    static func checkHealth(_ binary: String, environment: [String: String]) async throws -> (code: Int32, output: String) {
        let output = NSTemporaryDirectory() + "health-\(UUID().uuidString.prefix(8)).out"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let check = try ChildProcess.spawn(
            TestEnvironment.binDirectory.appendingPathComponent(binary).path, ["--check-health"], environment: environment,
            stdoutPath: output)
        let ended = try await check.wait(timeout: .seconds(20))
        return (ended.exited ? ended.code : -1, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
    }
}
