import EventStore
import Foundation
import OperatorTools
import PostgresNIO
import PostwireConfig
import ProviderSamples
import Providers
import RedisSetup
import RedisStreams
import Testing

/// Postwire on a real Redis Cluster (three masters with a replica each) and behind real sentinels
/// (a master, a replica, three sentinels), made by Scripts/redis-topology on loopback.
///
/// Opt-in (POSTWIRE_TOPOLOGY_TESTS=1) until they pass: the first run on a real cluster stalled
/// before its first command reached Redis, and a stalled test would hold the whole suite.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["POSTWIRE_TOPOLOGY_TESTS"] == "1"))
struct ClusterTests {
    @Test func signedTrafficOnAClusterIsCountedExactlyAndSpreadOverEveryMaster() async throws {
        try await RedisTopology.with("cluster", port: 17200) { topology in
            try await TestEnvironment.withDatabase { database, store in
                let configuration = topology.cluster(TestEnvironment.configuration(database: database), shards: 6)
                let layout = configuration.redis.layout
                let now = Date()
                let base = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 3600).rounded(.down) * 3600 - 3600)
                let run = TestEnvironment.unique("cl")
                let mailgunSamples = PipelineTests.samples(150, kinds: SampleWebhooks.mailgunEvents, prefix: "mg-\(run)", base: base)
                let sendgridSamples = PipelineTests.samples(180, kinds: SampleWebhooks.sendgridEvents, prefix: "sg-\(run)", base: base)
                let mailgun = mailgunSamples.map { SampleWebhooks.mailgun($0, signingKey: PipelineTests.mailgunKey, signedAt: now) }
                let batches = stride(from: 0, to: 180, by: 60).map {
                    SampleWebhooks.sendgrid(Array(sendgridSamples[$0..<$0 + 60]), privateKey: PipelineTests.sendgridKey, signedAt: now)
                }
                let resigned = stride(from: 0, to: 180, by: 60).map {
                    SampleWebhooks.sendgrid(Array(sendgridSamples[$0..<$0 + 60]), privateKey: PipelineTests.sendgridKey, signedAt: now + 1)
                }
                let expected = PipelineTests.expectedCounts(mailgunSamples, provider: "mailgun", senderDomain: "mg.postwire.test")
                    .merging(PipelineTests.expectedCounts(sendgridSamples, provider: "sendgrid", senderDomain: "")) { $0 + $1 }
                let redis = try RedisTopology.client(configuration)

                try await Harness.withIngress(configuration, environment: PipelineTests.environment) { url in
                    try await Harness.withWorker(configuration, consumer: "c1") { _ in
                        try await Harness.withWorker(configuration, consumer: "c2") { _ in
                            #expect(try await PipelineTests.postAll(url + "/webhooks/mailgun", mailgun).allSatisfy { $0 == 200 })
                            // Replay guards live in their shard's slot on whichever master holds it.
                            #expect(try await PipelineTests.postAll(url + "/webhooks/mailgun", mailgun).allSatisfy { $0 == 406 })
                            let sendgridURL = url + "/webhooks/sendgrid"
                            #expect(try await PipelineTests.postAll(sendgridURL, batches + resigned).allSatisfy { $0 == 200 })
                            #expect(try await PipelineTests.postAll(sendgridURL, batches).allSatisfy { $0 == 403 })
                            try await TestEnvironment.eventually(timeout: .seconds(60), "330 events stored") {
                                try await store.eventCount() == 330
                            }
                            try await RedisTopology.waitUntilDrained(redis, configuration)
                        }
                    }
                }
                #expect(try await PipelineTests.actualCounts(store) == expected)
                #expect(try await store.eventCount() == 330)

                // Six shards over three masters: every master holds some, and each got entries.
                var owners: [RedisNode: Int] = [:]
                for stream in layout.streams { owners[try await redis.node(for: stream), default: 0] += 1 }
                #expect(owners.count == 3, "shards by master: \(owners)")
                let masters = try await redis.masters()
                #expect(masters.count == 3)
                for stream in layout.streams {
                    let added = try await redis.send(RedisCommand("XINFO", ["STREAM", RESPArgument(stream)]), routedBy: stream)
                    let fields = added.array ?? []
                    let index = try #require(fields.firstIndex { $0.string == "entries-added" })
                    #expect((fields[index + 1].integer ?? 0) > 0, "\(stream) got entries")
                }
                // `postwire status` lists each shard with its master.
                let report = await StatusReport.gather(
                    redis: redis, store: nil, layout: layout, deadLetterStream: configuration.redis.deadLetterStream,
                    quarantineStream: configuration.redis.quarantineStream)
                #expect(report.redisError == nil)
                #expect(Set(report.nodes.values).count == 3)
                #expect(report.render().contains("127.0.0.1:172"))
                await redis.close()
            }
        }
    }

    @Test func aClusterMasterKilledUnderLoadLosesNoAcknowledgedEvent() async throws {
        try await RedisTopology.with("cluster", port: 17300) { topology in
            try await TestEnvironment.withDatabase { database, store in
                var configuration = topology.cluster(TestEnvironment.configuration(database: database), shards: 6)
                configuration.redis.replicasToAcknowledge = 1
                let redis = try RedisTopology.client(configuration)
                let victim = try await redis.node(for: configuration.redis.layout.stream(shard: 0))
                try await Self.killMasterUnderLoad(configuration, store: store, database: database, redis: redis) {
                    try topology.kill(port: victim.port)
                }
                await redis.close()
            }
        }
    }

    @Test func aSentinelMasterKilledUnderLoadLosesNoAcknowledgedEvent() async throws {
        try await RedisTopology.with("sentinel", port: 17400) { topology in
            try await TestEnvironment.withDatabase { database, store in
                var configuration = topology.sentinel(TestEnvironment.configuration(database: database))
                configuration.redis.streamShards = 2
                configuration.redis.replicasToAcknowledge = 1
                let redis = try RedisTopology.client(configuration)
                let master = try await redis.node(for: configuration.redis.stream)
                #expect(master.port == 17400)
                try await Self.killMasterUnderLoad(configuration, store: store, database: database, redis: redis) {
                    try topology.kill(port: master.port)
                }
                #expect(try await redis.node(for: configuration.redis.stream).port == 17401, "the replica was promoted")
                await redis.close()
            }
        }
    }

    /// Posts 600 Mailgun events, one request each, from four posters at about 40 requests/s, and
    /// runs `kill` 3 s in. Every request answered 2xx must have its event in PostgreSQL; the others
    /// must be 503s, and only around the failover. Then, as an ESP would, the 503s are sent again
    /// until accepted: every event is then stored, once.
    static func killMasterUnderLoad(
        _ configuration: PostwireConfiguration, store: EventStore, database: String, redis: RedisClient,
        kill: @escaping @Sendable () throws -> Void
    ) async throws {
        let count = 600
        let base = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / 3600).rounded(.down) * 3600 - 3600)
        let samples = PipelineTests.samples(count, kinds: SampleWebhooks.mailgunEvents, prefix: TestEnvironment.unique("kill"), base: base)
        let start = ContinuousClock.now
        let killedAt = ContinuousClock.now + .seconds(3)
        try await Harness.withIngress(configuration, environment: PipelineTests.environment) { url in
            try await Harness.withWorker(configuration, consumer: "k1") { _ in
                let answers = try await withThrowingTaskGroup(of: [(Int, Int, Duration)].self) { group in
                    group.addTask {
                        try await Task.sleep(until: killedAt)
                        try kill()
                        return []
                    }
                    for poster in 0..<4 {
                        group.addTask {
                            var answers: [(Int, Int, Duration)] = []
                            for index in stride(from: poster, to: count, by: 4) {
                                let webhook = SampleWebhooks.mailgun(samples[index], signingKey: PipelineTests.mailgunKey, signedAt: Date())
                                let status = try await HTTP.request(url + "/webhooks/mailgun", headers: webhook.headers, body: webhook.body)
                                    .status
                                answers.append((index, status, ContinuousClock.now - start))
                                try await Task.sleep(for: .milliseconds(100))
                            }
                            return answers
                        }
                    }
                    var all: [(Int, Int, Duration)] = []
                    for try await part in group { all += part }
                    return all
                }
                let accepted = Set(answers.filter { $0.1 == 200 }.map(\.0))
                let refused = answers.filter { $0.1 != 200 }
                let killSecond = Duration.seconds(3)
                let window = refused.map(\.2)
                print(
                    "failover: \(accepted.count) accepted, \(refused.count) answered \(Set(refused.map(\.1)).sorted()), "
                        + "between \(window.min().map { "\($0 - killSecond)" } ?? "-") and \(window.max().map { "\($0 - killSecond)" } ?? "-") after the kill"
                )
                #expect(refused.allSatisfy { $0.1 == 503 }, "only 503 while failing over")
                #expect(refused.allSatisfy { $0.2 >= killSecond && $0.2 < killSecond + .seconds(20) }, "503 only around the failover")
                #expect(accepted.count > count / 2)

                // Every acknowledged event reaches PostgreSQL, though its master died after the 2xx.
                let recipients = Set(accepted.map { samples[$0].recipient.lowercased() })
                try await TestEnvironment.eventually(timeout: .seconds(90), "every acknowledged event stored") {
                    let stored = try await Self.storedRecipients(database)
                    return recipients.isSubset(of: stored)
                }
                // The ESP retries what got 503, until accepted.
                for (index, _, _) in refused {
                    try await TestEnvironment.eventually(timeout: .seconds(30), "retry of \(index) accepted") {
                        let webhook = SampleWebhooks.mailgun(samples[index], signingKey: PipelineTests.mailgunKey, signedAt: Date())
                        return try await HTTP.request(url + "/webhooks/mailgun", headers: webhook.headers, body: webhook.body).status == 200
                    }
                }
                try await TestEnvironment.eventually(timeout: .seconds(90), "\(count) events stored") {
                    try await store.eventCount() == count
                }
                try await RedisTopology.waitUntilDrained(redis, configuration, timeout: .seconds(90))
                #expect(try await store.eventCount() == count, "each event once")
                #expect(try await Self.storedRecipients(database).count == count)
            }
        }
    }

    static func storedRecipients(_ database: String) async throws -> Set<String> {
        try await TestEnvironment.withClient(database: database) { client in
            var recipients = Set<String>()
            for try await recipient in try await client.query("SELECT recipient FROM email_events", logger: TestEnvironment.logger).decode(
                String.self)
            {
                recipients.insert(recipient)
            }
            return recipients
        }
    }
}
