import EmailEvents
import EventStore
import Foundation
import PostwireConfig
import ProviderSamples
import Providers
import RedisSetup
import RedisStreams
import Testing
import WorkerApp

/// The events stream split into hash-tagged shards: the ingress spreads events over them by event
/// key, replay guards live in their shard's hash slot, and two workers with several lanes each read
/// every shard, still counting each event once.
@Suite struct ShardingTests {
    @Test func threeShardsTwoWorkersEveryEventCountedOnce() async throws {
        try await TestEnvironment.withDatabase { database, store in
            let configuration = {
                var configuration = TestEnvironment.configuration(database: database)
                configuration.redis.streamShards = 3
                configuration.worker.concurrency = 2  // three lanes each: one per shard at least
                return configuration
            }()
            let layout = configuration.redis.layout
            let traffic = MixedTraffic(run: TestEnvironment.unique("shard"), mailgun: 120, sendgrid: 180, now: Date())
            let (mailgun, batches, resignedBatches, expected) = (
                traffic.mailgun, traffic.batches, traffic.resignedBatches, traffic.expected
            )
            let resigned = traffic.mailgunSamples.map { SampleWebhooks.mailgun($0, signingKey: PipelineTests.mailgunKey, signedAt: Date()) }
            let redis = TestEnvironment.redis()

            let workers = try await Harness.withIngress(configuration, environment: PipelineTests.environment) { url in
                try await Harness.withWorker(configuration, consumer: "s1") { first in
                    try await Harness.withWorker(configuration, consumer: "s2") { second in
                        #expect(try await PipelineTests.postAll(url + "/webhooks/mailgun", mailgun).allSatisfy { $0 == 200 })
                        // Identical requests are replays (406) whichever shard their guard is in;
                        // re-signed ones are new requests for the same events.
                        #expect(try await PipelineTests.postAll(url + "/webhooks/mailgun", mailgun).allSatisfy { $0 == 406 })
                        #expect(try await PipelineTests.postAll(url + "/webhooks/mailgun", resigned).allSatisfy { $0 == 200 })
                        let sendgridURL = url + "/webhooks/sendgrid"
                        #expect(try await PipelineTests.postAll(sendgridURL, batches + resignedBatches).allSatisfy { $0 == 200 })
                        #expect(try await PipelineTests.postAll(sendgridURL, batches).allSatisfy { $0 == 403 }, "identical: replays")
                        for stream in layout.streams {
                            var shard = configuration
                            shard.redis.stream = stream
                            shard.redis.streamShards = 1
                            try await Harness.waitUntilDrained(redis, shard)
                        }
                        return [first, second]
                    }
                }
            }
            let lengths = try await RedisTopology.entriesAdded(redis, layout)
            #expect(lengths.allSatisfy { $0 > 0 }, "every shard got entries: \(lengths)")
            #expect(lengths.reduce(0, +) == 240 + 360)
            #expect(try await redis.xlen(configuration.redis.stream) == 0, "nothing in the unsharded stream")

            let guards = try await redis.send(RedisCommand("KEYS", [RESPArgument(configuration.redis.replayGuardPrefix + "*")])).array ?? []
            let guardKeys = guards.compactMap(\.string)
            #expect(guardKeys.count == 240 + 6, "a guard per Mailgun token and per signed SendGrid batch")
            #expect(guardKeys.allSatisfy { key in (0..<3).contains { key.hasPrefix(configuration.redis.replayGuardPrefix + "{\($0)}:") } })

            let stats = workers.map { $0.stats.snapshot }
            #expect(stats.allSatisfy { $0.acknowledged > 0 }, "both workers worked: \(stats.map(\.acknowledged))")
            #expect(stats.map(\.acknowledged).reduce(0, +) == 600)
            #expect(stats.map(\.stored).reduce(0, +) == 300)
            #expect(try await store.eventCount() == 300)
            #expect(try await PipelineTests.actualCounts(store) == expected)
            var consumers: Set<String> = []
            for stream in layout.streams {
                for consumer in try await redis.consumers(stream, group: configuration.worker.group) { consumers.insert(consumer.name) }
            }
            #expect(consumers == ["s1/0", "s1/1", "s1/2", "s2/0", "s2/1", "s2/2"])
            print(
                "sharding: 3 shards got \(lengths) entries (240 Mailgun + 360 SendGrid); 240 guard keys, all shard-tagged; workers acknowledged \(stats.map(\.acknowledged)), stored 300 of 600, counted 300"
            )
            await redis.close()
        }
    }
}
