import EmailEvents
import EventStore
import Foundation
import IngressApp
import PostgresNIO
import PostwireConfig
import RedisSetup
import RedisStreams
import Testing

/// A worker process killed with SIGKILL after reading a batch and before acknowledging it: its
/// entries stay pending, another worker reclaims them, and the counts are exact.
@Suite struct WorkerCrashTests {
    static func events(_ count: Int, run: String) -> [EmailEvent] {
        (0..<count).map { i in
            var event = EmailEvent(
                provider: .mailgun, source: "default", type: i % 2 == 0 ? .delivered : .opened,
                espEvent: i % 2 == 0 ? "delivered" : "opened",
                eventKey: "\(run)-\(i)", occurredAt: Date(unixMicroseconds: 1_700_000_000_000_000 + Int64(i)),
                receivedAt: Date(), raw: Array(#"{"i":\#(i)}"#.utf8)
            )
            event.setRecipient("r\(i)@example.com")
            return event
        }
    }

    /// Environment for a worker process with `configuration`, under its own consumer name and with
    /// an operations port of its own (several run at once).
    static func workerEnvironment(_ configuration: PostwireConfiguration, consumer: String) -> [String: String] {
        TestEnvironment.childEnvironment(configuration, ["POSTWIRE_WORKER_CONSUMER": consumer, "POSTWIRE_WORKER_METRICS_PORT": "0"])
    }

    /// Entries pending with a worker process: with several lanes its consumers are `<name>/<n>`.
    static func held(by worker: String, _ summary: PendingSummary) -> Int64 {
        summary.consumers.filter { $0.key == worker || $0.key.hasPrefix(worker + "/") }.values.reduce(0, +)
    }

    @Test func killedWorkersBatchIsReclaimedAndCountedOnce() async throws {
        try await TestEnvironment.withDatabase { database, store in
            let configuration = TestEnvironment.configuration(database: database)
            let redis = TestEnvironment.redis()
            let run = TestEnvironment.unique("crash")
            let sink = RedisEventSink(
                client: redis, layout: configuration.redis.layout, quarantineStream: configuration.redis.quarantineStream)
            _ = try await sink.append(Self.events(100, run: run), replayNonce: nil, nonceTTL: 0)

            // Hold the rollup table so the victim's batch statement blocks after it has read the batch.
            try await store.client.withConnection { lock in
                try await lock.query("BEGIN", logger: TestEnvironment.logger)
                try await lock.query("LOCK TABLE event_counts_hourly IN ACCESS EXCLUSIVE MODE", logger: TestEnvironment.logger)

                let victim = try ChildProcess.spawn(
                    TestEnvironment.binDirectory.appendingPathComponent("postwire-worker").path, [],
                    environment: Self.workerEnvironment(configuration, consumer: "victim")
                )
                try await TestEnvironment.eventually("the victim holds the whole batch") {
                    let summary = try? await redis.pendingSummary(configuration.redis.stream, group: configuration.worker.group)
                    return summary.map { Self.held(by: "victim", $0) } == 100
                }
                try await Task.sleep(for: .milliseconds(300))  // inside its blocked INSERT
                victim.signal(SIGKILL)
                let ended = try await victim.wait()
                #expect(ended.signal == SIGKILL)
                try await lock.query("COMMIT", logger: TestEnvironment.logger)
            }
            // Whether the victim's statement committed depends on when PostgreSQL notices its
            // client is gone (a blocked statement may still finish and commit). Either way the
            // entries were never acknowledged, and the rescue below must end with exact counts.
            #expect(try await redis.pendingSummary(configuration.redis.stream, group: configuration.worker.group).count == 100)

            try await Harness.withWorker(configuration, consumer: "rescuer") { _ in
                try await Harness.waitUntilDrained(redis, configuration)
            }
            #expect(try await store.eventCount() == 100)
            let counts = try await store.hourlyCounts()
            #expect(counts.map(\.count).reduce(0, +) == 100)
            #expect(Dictionary(counts.map { ($0.eventType, $0.count) }, uniquingKeysWith: +) == ["delivered": 50, "opened": 50])
            await redis.close()
        }
    }

    @Test func sigtermFinishesTheBatchInHand() async throws {
        try await TestEnvironment.withDatabase { database, store in
            let configuration = TestEnvironment.configuration(database: database)
            let redis = TestEnvironment.redis()
            let sink = RedisEventSink(
                client: redis, layout: configuration.redis.layout, quarantineStream: configuration.redis.quarantineStream)
            _ = try await sink.append(Self.events(60, run: TestEnvironment.unique("term")), replayNonce: nil, nonceTTL: 0)

            let path = TestEnvironment.binDirectory.appendingPathComponent("postwire-worker").path
            let worker = try await store.client.withConnection { lock in
                try await lock.query("BEGIN", logger: TestEnvironment.logger)
                try await lock.query("LOCK TABLE event_counts_hourly IN ACCESS EXCLUSIVE MODE", logger: TestEnvironment.logger)
                let worker = try ChildProcess.spawn(path, [], environment: Self.workerEnvironment(configuration, consumer: "polite"))
                try await TestEnvironment.eventually("the worker holds the batch") {
                    (try? await redis.pendingSummary(configuration.redis.stream, group: configuration.worker.group))
                        .map { Self.held(by: "polite", $0) } == 60
                }
                worker.signal(SIGTERM)  // asked to stop while its commit waits
                try await Task.sleep(for: .milliseconds(300))
                #expect(worker.poll() == nil, "the worker must wait for its commit")
                try await lock.query("COMMIT", logger: TestEnvironment.logger)
                return worker
            }
            let ended = try await worker.wait()
            #expect(ended.exited && ended.code == 0)
            #expect(try await store.eventCount() == 60)
            #expect(try await redis.pendingSummary(configuration.redis.stream, group: configuration.worker.group).count == 0)
            await redis.close()
        }
    }
}
