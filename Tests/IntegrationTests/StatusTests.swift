import EmailEvents
import EventStore
import Foundation
import OperatorTools
import PostwireConfig
import RedisSetup
import RedisStreams
import Testing
import WorkerApp

/// `postwire status`: what it gathers from Redis and PostgreSQL, and the real command's output.
@Suite struct StatusTests {
    @Test func reportShowsStreamsPendingDeadLettersAndTheLastHour() async throws {
        try await TestEnvironment.withDatabase { database, store in
            let configuration = TestEnvironment.configuration(database: database)
            let redis = TestEnvironment.redis()
            let stream = configuration.redis.stream
            let group = configuration.worker.group
            try await redis.createGroup(stream, group: group)
            try await ResilienceTests.append(ResilienceTests.events(12, run: TestEnvironment.unique("status")), configuration, redis: redis)
            let held = try await redis.readGroup(stream, group: group, consumer: "holder", count: 5, blockMilliseconds: 10)
            try #require(held.count == 5)
            for _ in 0..<2 { _ = try await redis.xadd(configuration.redis.deadLetterStream, [("dead_error", Array("x".utf8))]) }
            _ = try await redis.xadd(configuration.redis.quarantineStream, [("reason", Array("x".utf8))])
            _ = try await store.write(ResilienceTests.events(7, run: TestEnvironment.unique("stored")))

            let report = await StatusReport.gather(
                redis: redis, store: store, layout: configuration.redis.layout, deadLetterStream: configuration.redis.deadLetterStream,
                quarantineStream: configuration.redis.quarantineStream)
            #expect(report.streams.map(\.length) == [12])
            let groupStatus = try #require(report.groups.first)
            #expect(groupStatus.pending == 5)
            #expect(groupStatus.lag == 7)
            #expect(groupStatus.consumers.map(\.name) == ["holder"])
            #expect((groupStatus.oldestPendingSeconds ?? -1) >= 0)
            #expect(report.deadLetters.length == 2)
            #expect(report.quarantined.length == 1)
            #expect(report.storedLastHour == ["sendgrid": 7])
            let text = report.render()
            #expect(text.contains("holder"))
            #expect(text.contains("stored in the last hour: 7 events"))

            // The command itself, as an operator runs it.
            var environment = ProcessInfo.processInfo.environment
            environment["POSTWIRE_REDIS_PORT"] = "\(configuration.redis.port)"
            environment["POSTWIRE_REDIS_STREAM"] = stream
            environment["POSTWIRE_REDIS_DEAD_LETTER_STREAM"] = configuration.redis.deadLetterStream
            environment["POSTWIRE_REDIS_QUARANTINE_STREAM"] = configuration.redis.quarantineStream
            environment["POSTWIRE_POSTGRES_PORT"] = "\(configuration.postgres.port)"
            environment["POSTWIRE_POSTGRES_DATABASE"] = database
            environment["POSTWIRE_POSTGRES_PASSWORD"] = TestEnvironment.postgresPassword
            let output = "/tmp/" + TestEnvironment.unique("status") + ".out"
            let child = try ChildProcess.spawn(
                TestEnvironment.binDirectory.appendingPathComponent("postwire").path, ["status"], environment: environment,
                stdoutPath: output)
            let ended = try await child.wait()
            let printed = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            try? FileManager.default.removeItem(atPath: output)
            #expect(ended.exited && ended.code == 0)
            #expect(
                printed.contains(stream) && printed.contains("holder") && printed.contains("stored in the last hour: 7 events"),
                "\(printed)")
            print("postwire status:\n\(printed)")
            await redis.close()
        }
    }

    /// Before any event arrived or any worker ran, the streams do not exist: status says so
    /// instead of failing with Redis's `ERR no such key`.
    @Test func statusBeforeAnyWorkerRanShowsEmptyStreams() async throws {
        try await TestEnvironment.withDatabase { database, _ in try await Self.statusOnEmptyStreams(database: database) }
    }

    static func statusOnEmptyStreams(database: String) async throws {
        let configuration = TestEnvironment.configuration(database: database)
        var environment = ProcessInfo.processInfo.environment
        environment["POSTWIRE_POSTGRES_DATABASE"] = database
        environment["POSTWIRE_REDIS_PORT"] = "\(configuration.redis.port)"
        environment["POSTWIRE_REDIS_STREAM"] = configuration.redis.stream
        environment["POSTWIRE_REDIS_DEAD_LETTER_STREAM"] = configuration.redis.deadLetterStream
        environment["POSTWIRE_REDIS_QUARANTINE_STREAM"] = configuration.redis.quarantineStream
        environment["POSTWIRE_POSTGRES_PORT"] = "\(configuration.postgres.port)"
        environment["POSTWIRE_POSTGRES_PASSWORD"] = TestEnvironment.postgresPassword
        let output = "/tmp/" + TestEnvironment.unique("status-empty") + ".out"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let child = try ChildProcess.spawn(
            TestEnvironment.binDirectory.appendingPathComponent("postwire").path, ["status"], environment: environment,
            logPath: output, stdoutPath: output)
        let ended = try await child.wait()
        let printed = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        #expect(ended.exited && ended.code == 0, "\(printed)")
        #expect(!printed.contains("no such key") && !printed.contains("Usage:"), "\(printed)")
        #expect(printed.contains(configuration.redis.stream), "\(printed)")
    }

    /// Every command's help reads as prose: no line-continuation backslash printed literally.
    @Test func helpTextsHaveNoStrayBackslashes() async throws {
        for command in ["", "migrate", "stats", "suppressions export", "retention", "status", "send-test", "loadgen", "replay", "keygen"] {
            let output = "/tmp/" + TestEnvironment.unique("help") + ".out"
            defer { try? FileManager.default.removeItem(atPath: output) }
            let arguments = command.split(separator: " ").map(String.init) + ["--help"]
            let child = try ChildProcess.spawn(
                TestEnvironment.binDirectory.appendingPathComponent("postwire").path, arguments, stdoutPath: output)
            _ = try await child.wait()
            let printed = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            #expect(printed.contains("USAGE:"), "postwire \(command) --help: \(printed.prefix(200))")
            #expect(!printed.contains("\\"), "postwire \(command) --help prints a backslash: \(printed)")
        }
    }

    /// PostgreSQL or Redis unreachable: status answers within its timeout, says what it could not
    /// read, shows the rest, and exits 1.
    @Test func statusAnswersWithinItsTimeoutWhenADependencyIsDown() async throws {
        let configuration = TestEnvironment.configuration(database: "postgres")
        for down in ["postgres", "redis"] {
            var environment = ProcessInfo.processInfo.environment
            environment["POSTWIRE_REDIS_PORT"] = down == "redis" ? "\(TestEnvironment.freePort())" : "\(configuration.redis.port)"
            environment["POSTWIRE_REDIS_STREAM"] = configuration.redis.stream
            environment["POSTWIRE_POSTGRES_PORT"] = down == "postgres" ? "\(TestEnvironment.freePort())" : "\(configuration.postgres.port)"
            environment["POSTWIRE_POSTGRES_PASSWORD"] = TestEnvironment.postgresPassword
            let output = "/tmp/" + TestEnvironment.unique("status-down") + ".out"
            defer { try? FileManager.default.removeItem(atPath: output) }
            let start = ContinuousClock.now
            let child = try ChildProcess.spawn(
                TestEnvironment.binDirectory.appendingPathComponent("postwire").path, ["status", "--timeout", "2"],
                environment: environment,
                logPath: output + ".err", stdoutPath: output)
            let ended = try await child.wait(timeout: .seconds(20))
            let elapsed = ContinuousClock.now - start
            let printed = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            #expect(ended.exited && ended.code == 1, "\(down) down: \(printed)")
            #expect(elapsed < .seconds(8), "\(down) down: status took \(elapsed)")
            if down == "postgres" {
                #expect(printed.contains(configuration.redis.stream) && printed.contains("stored in the last hour: unknown"), "\(printed)")
            } else {
                #expect(printed.contains("redis: unreadable") && printed.contains("stored in the last hour:"), "\(printed)")
            }
            print("status with \(down) down: exit \(ended.code) after \(elapsed)")
        }
    }

    /// After a Redis restart the group's backlog is what is really undelivered: 0 for a stream
    /// read to the end, whatever Redis's own lag counter says.
    @Test func backlogIsRightAfterARedisRestart() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.unique("redis-restart")).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let port = TestEnvironment.freePort()
        let first = try await RedisServerProcess.start(port: port, dataDirectory: directory)
        let redis = TestEnvironment.redis(port: port)
        let stream = "postwire:restart:events"
        try await redis.createGroup(stream, group: "g")
        for i in 0..<500 { _ = try await redis.xadd(stream, [("i", Array(String(i).utf8))]) }
        let read = try await redis.readGroup(stream, group: "g", consumer: "c", count: 1000, blockMilliseconds: 10)
        #expect(try await redis.ack(stream, group: "g", ids: read.map(\.id)) == 500)
        _ = try await redis.trim(stream, minId: "9999999999999-0")
        #expect(try await redis.groups(stream).first?.backlog == 0)

        await first.stop()
        let server = try await RedisServerProcess.start(port: port, dataDirectory: directory)
        defer { Task { await server.stop() } }
        let after = try #require(try await redis.groups(stream).first)
        #expect(after.backlog == 0, "Redis says lag \(String(describing: after.lag)) after the restart")
        for i in 0..<5 { _ = try await redis.xadd(stream, [("i", Array(String(i).utf8))]) }
        let grown = try #require(try await redis.groups(stream).first)
        #expect(
            (grown.backlog ?? -1) >= 5 && (grown.backlog ?? 99) <= 5,
            "backlog \(String(describing: grown.backlog)), lag \(String(describing: grown.lag))")
        print(
            "redis restart: backlog 0 after the restart (Redis lag \(String(describing: after.lag))), \(grown.backlog ?? -1) after 5 more")
        await redis.close()
    }
}
