import EmailEvents
import EventStore
import Foundation
import IngressApp
import Logging
import OperatorTools
import PostgresNIO
import PostwireConfig
import RedisSetup
import RedisStreams
import Testing

@testable import WorkerApp

/// Dead letters, replay, shared work and stream hygiene against real Redis and PostgreSQL.
@Suite struct ResilienceTests {
    static func events(_ count: Int, run: String, firstKey: Int = 0) -> [EmailEvent] {
        (firstKey..<(firstKey + count)).map { i in
            var event = EmailEvent(
                provider: .sendgrid, source: "default", type: i % 3 == 0 ? .opened : .delivered,
                espEvent: i % 3 == 0 ? "open" : "delivered",
                eventKey: "\(run)-\(i)", occurredAt: Date(unixMicroseconds: 1_700_000_000_000_000 + Int64(i) * 1_000_000),
                receivedAt: Date(), raw: Array(#"{"i":\#(i)}"#.utf8)
            )
            event.setRecipient("r\(i % 7)@example.com")
            return event
        }
    }

    static func append(_ events: [EmailEvent], _ configuration: PostwireConfiguration, redis: RedisClient) async throws {
        let sink = RedisEventSink(client: redis, layout: configuration.redis.layout, quarantineStream: configuration.redis.quarantineStream)
        for chunk in stride(from: 0, to: events.count, by: 200) {
            _ = try await sink.append(Array(events[chunk..<min(chunk + 200, events.count)]), replayNonce: nil, nonceTTL: 0)
        }
    }

    static func replayer(_ configuration: PostwireConfiguration, _ redis: RedisClient) -> Replayer {
        Replayer(
            redis: redis, layout: configuration.redis.layout, deadLetterStream: configuration.redis.deadLetterStream,
            quarantineStream: configuration.redis.quarantineStream)
    }

    @Test func poisonEventIsDeadLetteredItsNeighboursCountedAndReplayCountsItOnce() async throws {
        try await TestEnvironment.withDatabase { database, store in
            let configuration = TestEnvironment.configuration(database: database)
            let redis = TestEnvironment.redis()
            let run = TestEnvironment.unique("poison")
            // The "bug": PostgreSQL refuses this one event (a data error, SQLSTATE class 23).
            try await store.client.query(
                PostgresQuery(unsafeSQL: "ALTER TABLE email_events ADD CONSTRAINT no_poison CHECK (event_key <> '\(run)-7')"),
                logger: TestEnvironment.logger)
            try await Self.append(Self.events(20, run: run), configuration, redis: redis)
            try await Harness.withWorker(configuration, consumer: "w") { worker in
                try await Harness.waitUntilDrained(redis, configuration)
                #expect(worker.stats.snapshot.deadLettered == 1)
            }
            #expect(try await store.eventCount() == 19)
            let dead = try await redis.xrange(configuration.redis.deadLetterStream, count: 10)
            try #require(dead.count == 1)
            #expect(dead[0].string("k") == "\(run)-7")
            #expect(dead[0].string("dead_error")?.contains("no_poison") == true)
            #expect(dead[0].string("dead_original_id") != nil)

            // A dry run moves nothing.
            let dry = try await Self.replayer(configuration, redis).replay(from: .dead, dryRun: true)
            #expect(dry.matched == 1 && dry.moved == 1)
            #expect(try await redis.xlen(configuration.redis.deadLetterStream) == 1)

            // The fix, then the replay: counted once, and replaying again finds nothing.
            try await store.client.query("ALTER TABLE email_events DROP CONSTRAINT no_poison", logger: TestEnvironment.logger)
            let replayed = try await Self.replayer(configuration, redis).replay(from: .dead, filter: .init(provider: "sendgrid"))
            #expect(replayed.moved == 1 && replayed.events == 1 && replayed.failures.isEmpty)
            #expect(try await redis.xlen(configuration.redis.deadLetterStream) == 0)
            try await Harness.withWorker(configuration, consumer: "w") { _ in try await Harness.waitUntilDrained(redis, configuration) }
            #expect(try await store.eventCount() == 20)
            #expect(try await store.hourlyCounts().map(\.count).reduce(0, +) == 20)
            #expect(try await Self.replayer(configuration, redis).replay(from: .dead).moved == 0)
            print(
                "poison: 20 events appended, 19 counted while 1 was dead-lettered with its error; after the fix replay moved 1, counted 20, a second replay moved 0"
            )
            await redis.close()
        }
    }

    /// Entries delivered more often than `maxDeliveries` are dead-lettered by the worker that
    /// reclaims them. That none is while PostgreSQL is down is shown with PostgreSQL really stopped
    /// (PostgresOutageTests): an unreachable port would stop the worker before it reads at all.
    @Test func entriesDeliveredTooOftenAreDeadLettered() async throws {
        try await TestEnvironment.withDatabase { database, store in
            let configuration = {
                var configuration = TestEnvironment.configuration(database: database)
                configuration.worker.maxDeliveries = 3
                return configuration
            }()
            let redis = TestEnvironment.redis()
            try await redis.createGroup(configuration.redis.stream, group: configuration.worker.group)
            try await Self.append(Self.events(3, run: TestEnvironment.unique("tired")), configuration, redis: redis)
            // Delivered five times to consumers that never acknowledged (as if each crashed on it).
            let read = try await redis.readGroup(
                configuration.redis.stream, group: configuration.worker.group, consumer: "ghost", count: 10, blockMilliseconds: 10)
            for _ in 0..<4 {
                _ = try await redis.send(
                    RedisCommand(
                        "XCLAIM",
                        [RESPArgument(configuration.redis.stream), RESPArgument(configuration.worker.group), "ghost", "0"]
                            + read.map { RESPArgument($0.id) }))
            }
            // The worker reclaims them once they have been idle for claimMinIdle, and gives up on them.
            try await Harness.withWorker(configuration, consumer: "w-up") { _ in
                try await TestEnvironment.eventually("three dead letters") {
                    try await redis.xlen(configuration.redis.deadLetterStream) == 3
                }
            }
            let dead = try await redis.xrange(configuration.redis.deadLetterStream, count: 10)
            #expect(dead.allSatisfy { $0.string("dead_error")?.contains("without being acknowledged") == true })
            let deliveries = dead.compactMap { try? DeadLetterEntry(fields: $0.fields).deliveries }
            #expect(deliveries.count == 3 && deliveries.allSatisfy { $0 > 3 }, "\(deliveries)")
            #expect(try await redis.pendingSummary(configuration.redis.stream, group: configuration.worker.group).count == 0)
            #expect(try await store.eventCount() == 0)
            print("max deliveries: 3 entries delivered 5 times, all 3 dead-lettered, 0 pending, 0 stored")
            await redis.close()
        }
    }

    @Test func threeWorkersShareTheStreamAndEachEventSentThreeTimesCountsOnce() async throws {
        try await TestEnvironment.withDatabase { database, store in
            let configuration = {
                var configuration = TestEnvironment.configuration(database: database)
                configuration.worker.batchSize = 50
                return configuration
            }()
            let redis = TestEnvironment.redis()
            let run = TestEnvironment.unique("three")
            let distinct = Self.events(1000, run: run)
            try await redis.createGroup(configuration.redis.stream, group: configuration.worker.group)
            try await Self.append(distinct + distinct.shuffled() + distinct.reversed(), configuration, redis: redis)
            let workers = try await Harness.withWorker(configuration, consumer: "a") { a in
                try await Harness.withWorker(configuration, consumer: "b") { b in
                    try await Harness.withWorker(configuration, consumer: "c") { c in
                        try await Harness.waitUntilDrained(redis, configuration, timeout: .seconds(60))
                        return [a, b, c]
                    }
                }
            }
            // Read after the workers stopped: an XACK lands in Redis just before its worker counts it.
            let acknowledged = workers.map { $0.stats.snapshot }
            #expect(acknowledged.map(\.acknowledged).reduce(0, +) == 3000)
            #expect(acknowledged.map(\.stored).reduce(0, +) == 1000)
            #expect(acknowledged.allSatisfy { $0.acknowledged > 0 }, "work spread: \(acknowledged.map(\.acknowledged))")
            #expect(try await store.eventCount() == 1000)
            let counts = try await store.hourlyCounts()
            #expect(counts.map(\.count).reduce(0, +) == 1000)
            #expect(counts.filter { $0.eventType == "opened" }.map(\.count).reduce(0, +) == 334)
            print(
                "three workers: 3000 entries (1000 events × 3) acknowledged \(acknowledged.map(\.acknowledged)) per worker, stored \(acknowledged.map(\.stored).reduce(0, +)), counted 1000"
            )
            await redis.close()
        }
    }

    @Test func housekeepingTrimsOnlyAcknowledgedEntriesAndRemovesDepartedConsumers() async throws {
        let redis = TestEnvironment.redis()
        let stream = TestEnvironment.unique("pw:hygiene")
        try await redis.createGroup(stream, group: "g")
        for i in 0..<300 { _ = try await redis.xadd(stream, [("i", Array("\(i)".utf8))]) }
        let first = try await redis.readGroup(stream, group: "g", consumer: "gone", count: 100, blockMilliseconds: 10)
        try await redis.ack(stream, group: "g", ids: first.map(\.id))
        let held = try await redis.readGroup(stream, group: "g", consumer: "holder", count: 100, blockMilliseconds: 10)
        try await redis.ack(stream, group: "g", ids: Array(held.dropFirst(10).map(\.id)))  // 10 stay pending
        try await Task.sleep(for: .milliseconds(50))
        let logger = Logger(label: "test")
        try await Housekeeping(redis: redis, stream: stream, self_: "me", retentionMilliseconds: 20, logger: logger).run()
        // Everything older than the oldest pending entry may go; pending and undelivered entries stay.
        let left = try await redis.xrange(stream, count: 1000)
        #expect(left.count >= 200 && left.count < 300)
        #expect(left.contains { $0.id == held[0].id })
        #expect(try await redis.pending(stream, group: "g", count: 100).count == 10)
        let consumers = try await redis.consumers(stream, group: "g").map(\.name)
        #expect(!consumers.contains("gone"))
        #expect(consumers.contains("holder"))
        // A stream with no consumer group yet is never trimmed: nobody has read it.
        let unread = TestEnvironment.unique("pw:unread")
        for i in 0..<10 { _ = try await redis.xadd(unread, [("i", Array("\(i)".utf8))]) }
        try await Housekeeping(redis: redis, stream: unread, self_: "me", retentionMilliseconds: 20, logger: logger).run()
        #expect(try await redis.xlen(unread) == 10)
        try await redis.del([stream, unread])
        await redis.close()
    }

    @Test func quarantinedRequestIsReplayedOnceItParses() async throws {
        try await TestEnvironment.withDatabase { database, store in
            let configuration = TestEnvironment.configuration(database: database)
            let redis = TestEnvironment.redis()
            let sink = RedisEventSink(
                client: redis, layout: configuration.redis.layout, quarantineStream: configuration.redis.quarantineStream)
            let good = #"[{"event":"delivered","email":"a@b.c","timestamp":1700000000,"sg_event_id":"q-1"}]"#
            // As if an older parser had refused it; the body itself is fine for today's.
            var entry = QuarantineEntry(
                provider: "sendgrid", source: "default", reason: "old parser", contentType: "application/json", receivedAt: Date(),
                body: Array(good.utf8))
            entry.headers = ["authorization": "Bearer secret", "x-twilio-email-event-webhook-signature": "sig", "x-request-id": "r1"]
            try await sink.quarantine(entry)
            try await sink.quarantine(
                QuarantineEntry(
                    provider: "sendgrid", source: "default", reason: "bad", contentType: "application/json", receivedAt: Date(),
                    body: Array("{no".utf8)))
            let stored = try await redis.xrange(configuration.redis.quarantineStream, count: 10)
            #expect(stored[0].string("headers") == #"{"x-request-id":"r1"}"#)  // no credentials kept

            let outcome = try await Self.replayer(configuration, redis).replay(from: .quarantine)
            #expect(outcome.moved == 1 && outcome.events == 1 && outcome.failures.count == 1)
            #expect(try await redis.xlen(configuration.redis.quarantineStream) == 1)
            try await Harness.withWorker(configuration, consumer: "w") { _ in try await Harness.waitUntilDrained(redis, configuration) }
            #expect(try await store.eventCount() == 1)
            await redis.close()
        }
    }
}
