import EmailEvents
import EventStore
import Foundation
import PostgresNIO
import PostgresSetup
import PostwireConfig
import RedisStreams
import Testing
import WorkerApp

/// Events PostgreSQL cannot take, among good ones, through the real worker and PostgreSQL: the
/// good ones are committed at once, each bad one is dead-lettered alone with the SQLSTATE and
/// PostgreSQL's message, and no lane retries anything.
@Suite struct PoisonTests {
    static func events(_ count: Int, run: String, poison: Set<Int> = [], longMessageId: Set<Int> = []) -> [EmailEvent] {
        ResilienceTests.events(count, run: run).enumerated().map { i, event in
            var event = event
            // Not JSON: `raw::jsonb` fails with 22P02, a data error no retry cures.
            if poison.contains(i) { event.raw = Array(#"{"i": \#(i), not json"#.utf8) }
            if longMessageId.contains(i) { event.messageId = String(repeating: "m", count: 6000) }
            return event
        }
    }

    /// The field report: a 6,000-character message id wedged every lane (SQLSTATE 54000, index
    /// row too large). Capped before it is bound, it is no poison at all.
    @Test func aHugeMessageIdIsStoredCappedAndWedgesNothing() async throws {
        try await TestEnvironment.withDatabase { database, store in
            let configuration = {
                var configuration = TestEnvironment.configuration(database: database)
                configuration.worker.batchSize = 1000
                return configuration
            }()
            let redis = TestEnvironment.redis()
            let run = TestEnvironment.unique("huge")
            try await ResilienceTests.append(Self.events(1000, run: run, longMessageId: [500]), configuration, redis: redis)
            try await Harness.withWorker(configuration, consumer: "w") { worker in
                try await Harness.waitUntilDrained(redis, configuration)
                #expect(worker.stats.snapshot.batchFailures == 0 && worker.stats.snapshot.deadLettered == 0)
            }
            #expect(try await store.eventCount() == 1000)
            let stored = try await store.client.query(
                "SELECT message_id FROM email_events WHERE event_key = \("\(run)-500")", logger: TestEnvironment.logger
            ).decode(String.self).first { _ in true }
            #expect(stored.map { $0.utf8.count <= 512 && $0.hasPrefix("mmmm") && $0.contains("~") } == true, "\(stored ?? "none")")
            #expect(try await redis.xlen(configuration.redis.deadLetterStream) == 0)
            await redis.close()
        }
    }

    @Test(arguments: [[421], [3, 97, 211, 333, 480, 512, 640, 777, 901, 998]])
    func poisonEventsAmongAThousandAreDeadLetteredAlone(poison: [Int]) async throws {
        try await TestEnvironment.withDatabase { database, store in
            let configuration = {
                var configuration = TestEnvironment.configuration(database: database)
                configuration.worker.batchSize = poison.count == 1 ? 1000 : 250  // several batches, over both workers' lanes
                configuration.worker.concurrency = 2
                configuration.worker.maxDeliveries = 3
                // Isolating takes several statements: under a loaded test run they can outlast the
                // tests' 2 s takeover time, and a reclaim would then hide whether isolation alone worked.
                configuration.worker.claimMinIdleMilliseconds = 120_000
                return configuration
            }()
            let redis = TestEnvironment.redis()
            let run = TestEnvironment.unique("poison")
            try await ResilienceTests.append(Self.events(1000, run: run, poison: Set(poison)), configuration, redis: redis)
            try await Harness.withWorker(configuration, consumer: "a") { a in
                try await Harness.withWorker(configuration, consumer: "b") { b in
                    // Ten isolated by halving are about a hundred transactions: alone 14 s here, and
                    // more than 30 s beside the rest of the suite.
                    try await Harness.waitUntilDrained(redis, configuration, timeout: .seconds(120))
                    let snapshots = [a.stats.snapshot, b.stats.snapshot]
                    #expect(snapshots.map(\.batchFailures).reduce(0, +) == 0, "no batch was retried: \(snapshots)")
                    #expect(snapshots.map(\.deadLettered).reduce(0, +) == poison.count)
                    #expect(snapshots.map(\.reclaimed).reduce(0, +) == 0, "nothing waited for a reclaim")
                }
            }
            #expect(try await store.eventCount() == 1000 - poison.count)
            #expect(try await store.hourlyCounts().map(\.count).reduce(0, +) == 1000 - poison.count)
            let dead = try await redis.xrange(configuration.redis.deadLetterStream, count: 100)
            #expect(Set(dead.compactMap { $0.string("k") }) == Set(poison.map { "\(run)-\($0)" }))
            for entry in dead {
                #expect(entry.string("dead_sqlstate") == "22P02", "\(entry.fields.keys.sorted())")
                #expect(entry.string("dead_error")?.contains("json") == true, "\(entry.string("dead_error") ?? "")")
                #expect(entry.string("dead_deliveries") == nil, "dead-lettered on its first delivery")
            }
            await redis.close()
        }
    }

    /// The worker's sessions carry statement_timeout and lock_timeout, so no statement can hold a
    /// lane forever (a blocked statement is cancelled with 57014 or 55P03 and the batch retried).
    @Test func workerSessionsHaveStatementAndLockTimeouts() async throws {
        var settings = PostwireConfiguration().postgres
        settings.port = TestEnvironment.postgresPort
        settings.database = "postgres"
        let configuration = settings.clientConfiguration(password: TestEnvironment.postgresPassword, timeouts: (60_000, 1_500))
        let client = PostgresClient(configuration: configuration, backgroundLogger: TestEnvironment.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            let shown = try await client.query(
                "SELECT current_setting('statement_timeout'), current_setting('lock_timeout')", logger: TestEnvironment.logger
            )
            .decode((String, String).self).first { _ in true }
            #expect(shown?.0 == "1min" && shown?.1 == "1500ms", "\(String(describing: shown))")
        }
        #expect(EventStoreError.classify("57014") == .unavailable && EventStoreError.classify("55P03") == .unavailable)
    }
}
