import EmailEvents
import EventStore
import Foundation
import PostwireConfig
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

            let report = try await StatusReport.gather(
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
        let configuration = TestEnvironment.configuration(database: "postgres")
        var environment = ProcessInfo.processInfo.environment
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
}
