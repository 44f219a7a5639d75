import Crypto
import EmailEvents
import EventStore
import Foundation
import NIOConcurrencyHelpers
import PostwireConfig
import ProviderSamples
import Providers
import RedisStreams
import Testing
import WorkerApp

/// Faults under load: real worker processes killed with SIGKILL every second and a half
/// while signed Mailgun and SendGrid traffic, with deliberate duplicates, flows through a running
/// ingress. Every acknowledged event must be counted exactly once.
@Suite(.serialized) struct ChaosTests {
    static let mailgunKey = "chaos-mailgun-key"
    static let sendgridKey = P256.Signing.PrivateKey()

    @Test func workersKilledEverySecondAndAHalfLoseAndDoubleNothing() async throws {
        try await TestEnvironment.withDatabase { database, store in
            let configuration = {
                var configuration = TestEnvironment.configuration(database: database)
                configuration.worker.claimMinIdleMilliseconds = 1000
                configuration.worker.claimIntervalMilliseconds = 300
                configuration.worker.batchSize = 100
                return configuration
            }()
            let environment = [
                "POSTWIRE_SECRET_MAILGUN_DEFAULT": Self.mailgunKey,
                "POSTWIRE_SECRET_SENDGRID_DEFAULT": Self.sendgridKey.publicKey.derRepresentation.base64EncodedString(),
            ]
            let redis = TestEnvironment.redis()
            try await redis.createGroup(configuration.redis.stream, group: configuration.worker.group)
            let workers = NIOLockedValueBox<[ChildProcess]>([])
            let spawned = NIOLockedValueBox(0)
            @Sendable func spawnWorker() throws {
                let n = spawned.withLockedValue { value in
                    value += 1
                    return value
                }
                let child = try ChildProcess.spawn(
                    TestEnvironment.binDirectory.appendingPathComponent("postwire-worker").path, [],
                    environment: WorkerCrashTests.workerEnvironment(configuration, consumer: "chaos-\(n)"))
                workers.withLockedValue { $0.append(child) }
            }
            try spawnWorker()
            try spawnWorker()

            let run = TestEnvironment.unique("chaos")
            let now = Date()
            let mailgun = (0..<300).map { i in
                SampleEvent(
                    espEvent: ["delivered", "opened", "clicked"][i % 3], id: "\(run)-mg-\(i)", recipient: "u\(i)@example.com",
                    occurredAt: now)
            }
            let sendgridBatches = (0..<20).map { b in
                (0..<50).map { i in
                    SampleEvent(
                        espEvent: ["processed", "delivered", "open"][i % 3], id: "\(run)-sg-\(b)-\(i)", recipient: "s\(i)@example.com",
                        occurredAt: now)
                }
            }
            let distinct = mailgun.count + sendgridBatches.map(\.count).reduce(0, +)
            let killed = NIOLockedValueBox(0)

            let (accepted, sent) = try await Harness.withIngress(configuration, environment: environment) { url in
                try await withThrowingTaskGroup(of: (Int, Int).self) { group in
                    // The killer: one worker process SIGKILLed every 1.5 s, a new one started.
                    group.addTask {
                        for _ in 0..<8 {
                            try await Task.sleep(for: .milliseconds(1500))
                            if let victim = workers.withLockedValue({ $0.isEmpty ? nil : $0.removeFirst() }) {
                                victim.signal(SIGKILL)
                                _ = try? await victim.wait()
                                killed.withLockedValue { $0 += 1 }
                            }
                            try spawnWorker()
                        }
                        return (0, 0)
                    }
                    // Mailgun: every event once, then each again re-signed (an ESP retry).
                    group.addTask {
                        try await SignedTraffic.mailgun(mailgun, url: url, key: Self.mailgunKey, pause: .milliseconds(15))
                    }
                    // Poison: authentic Mailgun events PostgreSQL refuses (a NUL in a variable:
                    // jsonb has no \u0000), each posted once. They must end in the dead letters alone.
                    group.addTask {
                        var accepted = 0, sent = 0
                        for i in 0..<10 {
                            let data =
                                #"{"event":"delivered","id":"\#(run)-poison-\#(i)","timestamp":\#(Int(now.timeIntervalSince1970)),"#
                                + #""recipient":"p\#(i)@example.com","user-variables":{"note":"a\u0000b"}}"#
                            let request = Signers.sign("mailgun", Array(data.utf8), mailgunKey: Self.mailgunKey)
                            let reply = try await HTTP.request(url + "/webhooks/mailgun", headers: request.headers, body: request.body)
                            sent += 1
                            if reply.status == 200 { accepted += 1 }
                            try await Task.sleep(for: .milliseconds(300))
                        }
                        return (accepted, sent)
                    }
                    // SendGrid: each batch posted three times, each signed anew.
                    group.addTask {
                        try await SignedTraffic.sendgrid(
                            sendgridBatches, url: url, key: Self.sendgridKey, copies: 3, pause: .milliseconds(400))
                    }
                    var totals = (0, 0)
                    for try await (a, s) in group { totals = (totals.0 + a, totals.1 + s) }
                    return totals
                }
            }
            #expect(accepted == sent, "every request was accepted (\(accepted) of \(sent))")

            let drainStart = ContinuousClock.now
            try await Harness.waitUntilDrained(redis, configuration, timeout: .seconds(90))
            let drained = ContinuousClock.now - drainStart
            for worker in workers.withLockedValue({ $0 }) {
                worker.signal(SIGTERM)
                _ = try await worker.wait()
            }
            let counted = try await store.eventCount()
            let rollup = try await store.hourlyCounts().map(\.count).reduce(0, +)
            let dead = try await redis.xlen(configuration.redis.deadLetterStream)
            print(
                "chaos: \(sent) requests (\(distinct) distinct events, each sent 2-3 times), \(accepted) accepted, \(killed.withLockedValue { $0 }) workers SIGKILLed, counted \(counted), rollup \(rollup), dead-lettered \(dead), drained \(drained) after the load"
            )
            #expect(counted == distinct)
            #expect(rollup == Int64(distinct))
            let deadEntries = try await redis.xrange(configuration.redis.deadLetterStream, count: 100)
            let deadKeys = deadEntries.compactMap { $0.string("k") }.filter { $0.contains("-poison-") }
            #expect(
                dead == 10 && deadKeys.count == 10,
                "the dead letters hold the 10 poison events and nothing else: \(deadEntries.map { $0.string("k") ?? "?" })")
            #expect(
                deadEntries.allSatisfy { $0.string("dead_sqlstate")?.hasPrefix("22") == true },
                "\(deadEntries.map { $0.string("dead_error") ?? "" })")
            #expect(killed.withLockedValue { $0 } == 8)
            await redis.close()
        }
    }
}

/// Redis itself goes away under load: a private append-only Redis (fsync always) is
/// killed with SIGKILL and restarted on the same data while signed traffic flows. Requests during
/// the outage get 503 and are retried like an ESP would; every event that got a 2xx is counted.
@Suite(.serialized) struct RedisRestartTests {
    @Test func redisKilledAndRestartedLosesNoAcknowledgedEvent() async throws {
        let port = TestEnvironment.freePort()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.unique("pw-redis"))
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        @Sendable func startRedis() async throws -> ChildProcess {
            let child = try ChildProcess.spawn(
                "/usr/bin/redis-server",
                [
                    "--port", "\(port)", "--bind", "127.0.0.1", "--dir", directory.path, "--appendonly", "yes", "--appendfsync", "always",
                    "--save", "", "--loglevel", "warning",
                ])
            let probe = TestEnvironment.redis(port: port)
            defer { Task { await probe.close() } }
            try await TestEnvironment.eventually(timeout: .seconds(15), "redis on \(port)") { (try? await probe.ping()) != nil }
            return child
        }
        let server = NIOLockedValueBox(try await startRedis())
        defer { server.withLockedValue { $0 }.signal(SIGKILL) }

        try await TestEnvironment.withDatabase { database, store in
            let configuration = {
                var configuration = TestEnvironment.configuration(database: database, redisPort: port)
                configuration.sources = [SourceSettings(provider: "mailgun", name: "default")]
                configuration.worker.backoffMilliseconds = 50
                configuration.worker.maxBackoffMilliseconds = 300
                return configuration
            }()
            let key = "restart-mailgun-key"
            let run = TestEnvironment.unique("restart")
            let samples = (0..<400).map { i in
                SampleEvent(
                    espEvent: ["delivered", "opened"][i % 2], id: "\(run)-\(i)", recipient: "u\(i)@example.com", occurredAt: Date())
            }
            let outage = NIOLockedValueBox(0)
            let redis = TestEnvironment.redis(port: port)
            try await Harness.withIngress(configuration, environment: ["POSTWIRE_SECRET_MAILGUN_DEFAULT": key]) { url in
                try await Harness.withWorker(configuration, consumer: "w1") { _ in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            // Like an ESP: retry whatever did not get a 2xx (with a fresh signature).
                            for sample in samples {
                                while true {
                                    let webhook = SampleWebhooks.mailgun(sample, signingKey: key, signedAt: Date())
                                    let status =
                                        (try? await HTTP.request(url + "/webhooks/mailgun", headers: webhook.headers, body: webhook.body)
                                            .status) ?? 0
                                    if status == 200 { break }
                                    #expect(status == 503, "during the outage the ingress answers 503, got \(status)")
                                    outage.withLockedValue { $0 += 1 }
                                    try await Task.sleep(for: .milliseconds(100))
                                }
                                try await Task.sleep(for: .milliseconds(5))
                            }
                            // Poison after the restart (jsonb has no \u0000), retried like the rest.
                            for i in 0..<3 {
                                let data =
                                    #"{"event":"delivered","id":"\#(run)-poison-\#(i)","timestamp":\#(Int(Date().timeIntervalSince1970)),"#
                                    + #""recipient":"p@example.com","user-variables":{"note":"\u0000"}}"#
                                while true {
                                    let poison = Signers.sign("mailgun", Array(data.utf8), mailgunKey: key)
                                    let status =
                                        (try? await HTTP.request(url + "/webhooks/mailgun", headers: poison.headers, body: poison.body)
                                            .status)
                                        ?? 0
                                    if status == 200 { break }
                                    try await Task.sleep(for: .milliseconds(100))
                                }
                            }
                        }
                        try await Task.sleep(for: .seconds(1))
                        let first = server.withLockedValue { $0 }
                        first.signal(SIGKILL)
                        _ = try await first.wait()
                        try await Task.sleep(for: .seconds(2))
                        let second = try await startRedis()
                        server.withLockedValue { $0 = second }
                        try await group.waitForAll()
                    }
                    try await Harness.waitUntilDrained(redis, configuration, timeout: .seconds(60))
                }
            }
            let counted = try await store.eventCount()
            print(
                "redis restart: \(samples.count) events, \(outage.withLockedValue { $0 }) requests answered 503 during the outage and retried, counted \(counted)"
            )
            #expect(outage.withLockedValue { $0 } > 0, "the outage was seen")
            #expect(counted == samples.count)
            #expect(try await store.hourlyCounts().map(\.count).reduce(0, +) == Int64(samples.count))
            let deadKeys = try await redis.xrange(configuration.redis.deadLetterStream, count: 100).compactMap { $0.string("k") }
            #expect(deadKeys.count == 3 && deadKeys.allSatisfy { $0.contains("-poison-") }, "only the poisons: \(deadKeys)")
            await redis.close()
        }
        let last = server.withLockedValue { $0 }
        last.signal(SIGKILL)
        _ = try? await last.wait()
    }
}

/// PostgreSQL stopped for 30 seconds under load, on a private cluster so other tests are
/// not disturbed: the ingress keeps accepting, workers keep what they hold pending and back off,
/// the backlog drains once PostgreSQL is back, counts are exact and nothing is dead-lettered.
@Suite(.serialized) struct PostgresOutageTests {
    /// A throwaway PostgreSQL cluster (trust authentication on loopback, fsync off).
    final class PrivatePostgres: Sendable {
        let directory: String
        let port: Int
        let bin: String

        init() async throws {
            port = TestEnvironment.freePort()
            directory = "/tmp/" + TestEnvironment.unique("pw-pg")
            bin = try #require(
                (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql"))?.sorted().last.map {
                    "/usr/lib/postgresql/\($0)/bin"
                })
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            if getuid() == 0 { try await Self.run("/bin/chown", ["postgres:postgres", directory]) }
            try await asPostgres("\(bin)/initdb", ["-D", directory, "-U", "postwire", "-A", "trust", "-E", "UTF8"])
            try await start()
        }

        func start() async throws {
            try await asPostgres(
                "\(bin)/pg_ctl",
                [
                    "-D", directory, "-w", "-t", "60", "-l", "\(directory)/server.log",
                    "-o", "-p \(port) -c listen_addresses=127.0.0.1 -k /tmp -c fsync=off", "start",
                ])
        }

        func stop() async throws {
            try await asPostgres("\(bin)/pg_ctl", ["-D", directory, "-m", "fast", "-w", "stop"])
        }

        /// A cluster for the duration of `body`, removed afterwards whatever happens.
        static func with(_ body: (PrivatePostgres) async throws -> Void) async throws {
            let postgres = try await PrivatePostgres()
            do {
                try await body(postgres)
            } catch {
                await postgres.destroy()
                throw error
            }
            await postgres.destroy()
        }

        func destroy() async {
            try? await stop()
            try? FileManager.default.removeItem(atPath: directory)
        }

        private func asPostgres(_ tool: String, _ arguments: [String]) async throws {
            if getuid() == 0 {
                try await Self.run("/usr/sbin/runuser", ["-u", "postgres", "--", tool] + arguments)
            } else {
                try await Self.run(tool, arguments)
            }
        }

        static func run(_ tool: String, _ arguments: [String]) async throws {
            let child = try ChildProcess.spawn(tool, arguments)
            let ended = try await child.wait(timeout: .seconds(90))
            try #require(ended.exited && ended.code == 0, "\(tool) \(arguments.joined(separator: " ")) failed: \(ended)")
        }
    }

    /// The guard inside reclaim: entries over `maxDeliveries` found while PostgreSQL is down (after
    /// the worker started fine) stay pending; once PostgreSQL answers they are dead-lettered.
    @Test func exhaustedEntriesAreNotDeadLetteredWhilePostgresIsDown() async throws {
        try await PrivatePostgres.with { try await guardRun($0) }
    }

    private func guardRun(_ postgres: PrivatePostgres) async throws {
        let configuration = {
            var configuration = TestEnvironment.configuration(database: "postgres")
            configuration.postgres.port = postgres.port
            configuration.worker.maxDeliveries = 2
            return configuration
        }()
        try await TestEnvironment.withClient(database: "postgres", port: postgres.port) { client in
            try await EventStore(client: client, logger: TestEnvironment.logger).migrate()
        }
        let redis = TestEnvironment.redis()
        // Three entries held by a consumer that never acknowledges them.
        try await redis.createGroup(configuration.redis.stream, group: configuration.worker.group)
        try await ResilienceTests.append(ResilienceTests.events(3, run: TestEnvironment.unique("guard")), configuration, redis: redis)
        let ghost = try await redis.readGroup(
            configuration.redis.stream, group: configuration.worker.group, consumer: "ghost", count: 10, blockMilliseconds: 10)
        try #require(ghost.count == 3)
        @Sendable func claimForGhost(_ options: [RESPArgument]) async throws {
            _ = try await redis.send(
                RedisCommand(
                    "XCLAIM",
                    [RESPArgument(configuration.redis.stream), RESPArgument(configuration.worker.group), "ghost", "0"]
                        + ghost.map { RESPArgument($0.id) } + options))
        }
        // Until PostgreSQL is down the ghost keeps its entries fresh (JUSTID: no delivery counted),
        // so the worker cannot take them over while PostgreSQL still answers, however slow startup is.
        let keepFresh = Task {
            while !Task.isCancelled {
                try await claimForGhost(["JUSTID"])
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        try await Harness.withWorker(configuration, consumer: "guard") { worker in
            // A canary event committed: the worker reads and PostgreSQL answers.
            try await ResilienceTests.append(ResilienceTests.events(1, run: TestEnvironment.unique("canary")), configuration, redis: redis)
            try await TestEnvironment.eventually("the worker committed the canary") { worker.stats.snapshot.acknowledged == 1 }
            try await postgres.stop()
            keepFresh.cancel()
            _ = await keepFresh.result
            // Delivered three times in all, over maxDeliveries 2.
            for _ in 0..<2 { try await claimForGhost([]) }
            // Idle past claimMinIdle (2 s), then claimed with PostgreSQL down.
            try await TestEnvironment.eventually("the worker reclaimed them") { worker.stats.snapshot.reclaimed >= 3 }
            try await Task.sleep(for: .seconds(3))
            let whileDown = worker.stats.snapshot
            #expect(whileDown.deadLettered == 0)
            #expect(try await redis.xlen(configuration.redis.deadLetterStream) == 0)
            #expect(try await redis.pendingSummary(configuration.redis.stream, group: configuration.worker.group).count == 3)

            try await postgres.start()
            try await TestEnvironment.eventually(timeout: .seconds(60), "three dead letters once PostgreSQL is back") {
                try await redis.xlen(configuration.redis.deadLetterStream) == 3
            }
            #expect(try await redis.pendingSummary(configuration.redis.stream, group: configuration.worker.group).count == 0)
            print(
                "reclaim guard: 3 entries over maxDeliveries 2, \(whileDown.reclaimed) entry claims while PostgreSQL was down, \(whileDown.deadLettered) dead-lettered; after it returned: 3 dead-lettered, 0 pending"
            )
        }
        await redis.close()
    }

    @Test func postgresStoppedForThirtySecondsUnderLoad() async throws {
        try await PrivatePostgres.with { try await run($0) }
    }

    private func run(_ postgres: PrivatePostgres) async throws {
        let configuration = {
            var configuration = TestEnvironment.configuration(database: "postgres")
            configuration.postgres.port = postgres.port
            configuration.sources = [SourceSettings(provider: "mailgun", name: "default")]
            configuration.worker.maxBackoffMilliseconds = 2000
            return configuration
        }()
        try await TestEnvironment.withClient(database: "postgres", port: postgres.port) { client in
            try await EventStore(client: client, logger: TestEnvironment.logger).migrate()
        }
        let key = "outage-mailgun-key"
        let run = TestEnvironment.unique("outage")
        let samples = (0..<300).map { i in
            SampleEvent(
                espEvent: ["delivered", "opened", "clicked"][i % 3], id: "\(run)-\(i)", recipient: "u\(i)@example.com", occurredAt: Date())
        }
        let redis = TestEnvironment.redis()
        let restartedAt = NIOLockedValueBox<ContinuousClock.Instant?>(nil)
        let statuses = NIOLockedValueBox<[Int: Int]>([:])
        try await Harness.withIngress(configuration, environment: ["POSTWIRE_SECRET_MAILGUN_DEFAULT": key]) { url in
            try await Harness.withWorker(configuration, consumer: "outage-worker") { worker in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for (i, sample) in samples.enumerated() {
                            let webhook = SampleWebhooks.mailgun(sample, signingKey: key, signedAt: Date())
                            let status = try await HTTP.request(url + "/webhooks/mailgun", headers: webhook.headers, body: webhook.body)
                                .status
                            statuses.withLockedValue { $0[status, default: 0] += 1 }
                            if i % 60 == 30 {
                                // A poison among them (jsonb has no \u0000): refused for its data once
                                // PostgreSQL is back, never for the outage.
                                let data =
                                    #"{"event":"delivered","id":"\#(run)-poison-\#(i)","timestamp":\#(Int(Date().timeIntervalSince1970)),"#
                                    + #""recipient":"p@example.com","user-variables":{"note":"\u0000"}}"#
                                let poison = Signers.sign("mailgun", Array(data.utf8), mailgunKey: key)
                                let status = try await HTTP.request(url + "/webhooks/mailgun", headers: poison.headers, body: poison.body)
                                    .status
                                statuses.withLockedValue { $0[status, default: 0] += 1 }
                            }
                            try await Task.sleep(for: .milliseconds(40))
                        }
                    }
                    try await Task.sleep(for: .seconds(2))
                    try await postgres.stop()
                    try await Task.sleep(for: .seconds(30))
                    try await postgres.start()
                    restartedAt.withLockedValue { $0 = .now }
                    try await group.waitForAll()
                }
                try await Harness.waitUntilDrained(redis, configuration, timeout: .seconds(120))
                #expect(worker.stats.snapshot.deadLettered == 5, "the five poisons, and nothing the outage touched")
            }
        }
        let drained = ContinuousClock.now - (restartedAt.withLockedValue { $0 } ?? .now)
        let (counted, rollup) = try await TestEnvironment.withClient(database: "postgres", port: postgres.port) { client in
            let store = EventStore(client: client, logger: TestEnvironment.logger)
            return (try await store.eventCount(), try await store.hourlyCounts().map(\.count).reduce(0, +))
        }
        let dead = try await redis.xlen(configuration.redis.deadLetterStream)
        print(
            "postgres outage: \(samples.count) events sent, statuses \(statuses.withLockedValue { $0 }), counted \(counted), rollup \(rollup), dead-lettered \(dead), drained within \(drained) of PostgreSQL's return"
        )
        #expect(statuses.withLockedValue { $0 } == [200: samples.count + 5], "the ingress does not need PostgreSQL")
        #expect(counted == samples.count)
        #expect(rollup == Int64(samples.count))
        let deadKeys = try await redis.xrange(configuration.redis.deadLetterStream, count: 100).compactMap { $0.string("k") }
        #expect(dead == 5 && deadKeys.allSatisfy { $0.contains("-poison-") }, "\(deadKeys)")
        await redis.close()
    }
}
