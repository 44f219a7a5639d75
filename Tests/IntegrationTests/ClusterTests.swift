import Crypto
import EventStore
import Foundation
import LoadGen
import OperatorTools
import PostgresNIO
import PostwireConfig
import ProviderSamples
import Providers
import RedisSetup
import RedisStreams
import Synchronization
import Testing
import WorkerApp

/// Postwire on a real Redis Cluster (three masters with a replica each) and behind real sentinels
/// (a master, a replica, three sentinels), made by Scripts/redis-topology on loopback.
@Suite(.serialized) struct ClusterTests {
    @Test func signedTrafficOnAClusterIsCountedExactlyAndSpreadOverEveryMaster() async throws {
        try await RedisTopology.with("cluster", port: 17200) { topology in
            try await TestEnvironment.withDatabase { database, store in
                let configuration = topology.cluster(TestEnvironment.configuration(database: database), shards: 6)
                let layout = configuration.redis.layout
                let traffic = MixedTraffic(run: TestEnvironment.unique("cl"), mailgun: 150, sendgrid: 180, now: Date())
                let redis = try topology.client(configuration)
                // One event PostgreSQL refuses until the "fix": dead-lettered by the script on its
                // shard's slot, then replayed back into that shard.
                let poison = traffic.mailgunSamples[7].recipient.lowercased()
                try await store.client.query(
                    PostgresQuery(
                        unsafeSQL:
                            "ALTER TABLE email_events ADD CONSTRAINT no_poison CHECK (provider <> 'mailgun' OR recipient <> '\(poison)')"),
                    logger: TestEnvironment.logger)

                try await Harness.withIngress(configuration, environment: topology.environment) { url in
                    try await Harness.withWorker(configuration, consumer: "c1", environment: topology.environment) { _ in
                        try await Harness.withWorker(configuration, consumer: "c2", environment: topology.environment) { _ in
                            let mailgunURL = url + "/webhooks/mailgun"
                            #expect(try await PipelineTests.postAll(mailgunURL, traffic.mailgun).allSatisfy { $0 == 200 })
                            // Replay guards live in their shard's slot on whichever master holds it.
                            #expect(try await PipelineTests.postAll(mailgunURL, traffic.mailgun).allSatisfy { $0 == 406 })
                            let sendgridURL = url + "/webhooks/sendgrid"
                            let signedTwice = traffic.batches + traffic.resignedBatches
                            #expect(try await PipelineTests.postAll(sendgridURL, signedTwice).allSatisfy { $0 == 200 })
                            #expect(try await PipelineTests.postAll(sendgridURL, traffic.batches).allSatisfy { $0 == 403 })
                            // An authentic request that does not parse: quarantined by the store
                            // script, whose stream, budget counter and guard share its shard's slot.
                            let body = #"{"not":"an array"}"#
                            let timestamp = String(Int(Date().timeIntervalSince1970))
                            let signature = try PipelineTests.sendgridKey.signature(for: Data((timestamp + body).utf8))
                            let headers = [
                                "content-type": "application/json",
                                SendGridProvider.signatureHeader: signature.derRepresentation.base64EncodedString(),
                                SendGridProvider.timestampHeader: timestamp,
                            ]
                            #expect(try await HTTP.request(sendgridURL, headers: headers, body: Array(body.utf8)).status == 422)
                            try await TestEnvironment.eventually(timeout: .seconds(60), "329 events stored, 1 dead-lettered") {
                                try await store.eventCount() == 329
                            }
                            try await RedisTopology.waitUntilDrained(redis, configuration)
                            let replayer = Replayer(
                                redis: redis, layout: layout, deadLetterStream: configuration.redis.deadLetterStream,
                                quarantineStream: configuration.redis.quarantineStream)
                            try await store.client.query(
                                "ALTER TABLE email_events DROP CONSTRAINT no_poison", logger: TestEnvironment.logger)
                            let replayed = try await replayer.replay(from: .dead)
                            #expect(replayed.moved == 1 && replayed.failures.isEmpty, "\(replayed)")
                            try await TestEnvironment.eventually(timeout: .seconds(60), "330 events stored") {
                                try await store.eventCount() == 330
                            }
                            try await RedisTopology.waitUntilDrained(redis, configuration)
                        }
                    }
                }
                #expect(try await PipelineTests.actualCounts(store) == traffic.expected)
                #expect(try await store.eventCount() == 330)

                // Six shards over three masters: every master holds some, and each got entries.
                var owners: [RedisNode: Int] = [:]
                for stream in layout.streams { owners[try await redis.node(for: stream), default: 0] += 1 }
                #expect(owners.count == 3, "shards by master: \(owners)")
                let added = try await RedisTopology.entriesAdded(redis, layout)
                #expect(added.allSatisfy { $0 > 0 }, "every shard got entries: \(added)")
                // `postwire status` lists each shard with its master.
                let report = await StatusReport.gather(
                    redis: redis, store: nil, layout: layout, deadLetterStream: configuration.redis.deadLetterStream,
                    quarantineStream: configuration.redis.quarantineStream)
                #expect(report.redisError == nil)
                #expect(report.quarantined.length == 1, "the unparseable request, in its shard's quarantine stream")
                #expect(report.deadLetters.length == 0, "the replayed dead letter left its stream")
                #expect(Set(report.nodes.values).count == 3)
                #expect(report.render().contains("127.0.0.1:172"))
                await redis.close()
            }
        }
    }

    /// `postwire loadgen`'s engine against an ingress on the cluster, forged requests among the
    /// good: every answer as it must be, and what it counted as accepted is what the shards got and
    /// what PostgreSQL stored.
    @Test func loadgenTrafficOnAClusterIsCountedExactly() async throws {
        try await RedisTopology.with("cluster", port: 17600, password: "cluster-pw") { topology in
            try await TestEnvironment.withDatabase { database, store in
                let configuration = topology.cluster(TestEnvironment.configuration(database: database), shards: 6)
                let redis = try topology.client(configuration)
                let plan = TrafficPlan(
                    mix: ["mailgun": 2, "sendgrid": 1], batchSize: 10, duplicateShare: 0, badShare: 0.1,
                    mailgunKey: PipelineTests.mailgunKey, sendgridKey: PipelineTests.sendgridKey)
                let report = try await Harness.withIngress(configuration, environment: topology.environment) { url in
                    try await Harness.withWorker(configuration, consumer: "l1", environment: topology.environment) { _ in
                        let port = try #require(URL(string: url)?.port)
                        let report = try await LoadRun.run(
                            host: "127.0.0.1", port: port, plan: plan, shape: LoadShape(concurrency: 8, count: 400))
                        try await TestEnvironment.eventually(timeout: .seconds(60), "\(report.eventsAccepted) events stored") {
                            try await store.eventCount() == report.eventsAccepted
                        }
                        try await RedisTopology.waitUntilDrained(redis, configuration)
                        return report
                    }
                }
                #expect(report.requests == 400 && report.unexpected == 0, "\(report.statuses)")
                #expect((report.statuses[403] ?? 0) + (report.statuses[406] ?? 0) > 0, "forged requests were sent and refused")
                #expect(try await RedisTopology.entriesAdded(redis, configuration.redis.layout).reduce(0, +) == report.eventsAccepted)
                #expect(try await store.eventCount() == report.eventsAccepted)
                // The nodes require the password: a client without it learns nothing.
                let stranger = try RedisTopology(
                    directory: topology.directory, seeds: topology.seeds, password: nil, sentinelPassword: nil
                ).client(configuration)
                await #expect(throws: RedisError.self) { try await stranger.xlen(configuration.redis.layout.stream(shard: 0)) }
                await stranger.close()
                print("loadgen on the cluster: \(report.statuses), \(report.eventsAccepted) events accepted = appended = stored")
                await redis.close()
            }
        }
    }

    @Test func aClusterMasterKilledUnderLoadLosesNoAcknowledgedEvent() async throws {
        try await RedisTopology.with("cluster", port: 17300) { topology in
            try await TestEnvironment.withDatabase { database, store in
                var configuration = topology.cluster(TestEnvironment.configuration(database: database), shards: 6)
                configuration.redis.replicasToAcknowledge = 1
                let redis = try topology.client(configuration)
                let victim = try await redis.node(for: configuration.redis.layout.stream(shard: 0))
                // The restarted node is a replica again about 2 s after it starts (nodes.conf).
                try await Self.killMasterUnderLoad(
                    configuration, store: store, database: database, redis: redis, environment: topology.environment,
                    refusingFor: .seconds(18)
                ) {
                    try topology.kill(port: victim.port)
                } restart: {
                    try await topology.restart(port: victim.port)
                }
                await redis.close()
            }
        }
    }

    @Test func slotsMovedUnderLoadAreFollowedAndEveryEventCountedOnce() async throws {
        try await RedisTopology.with("cluster", port: 17500) { topology in
            try await TestEnvironment.withDatabase { database, store in
                let configuration = topology.cluster(TestEnvironment.configuration(database: database), shards: 6)
                let layout = configuration.redis.layout
                let redis = try topology.client(configuration)
                let shard0 = layout.stream(shard: 0)
                let source = try await redis.node(for: shard0)
                var other = source
                for stream in layout.streams where other == source { other = try await redis.node(for: stream) }
                let target = other
                #expect(source != target)
                // The load runs until 2 s after the move is over, however long the move takes
                // (15 s on CI), within a cap of samples.
                let cap = 3000
                let base = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / 3600).rounded(.down) * 3600 - 3600)
                let samples = PipelineTests.samples(
                    cap, kinds: SampleWebhooks.mailgunEvents, prefix: TestEnvironment.unique("move"), base: base)
                let load = LoadOutlastingAMove(cap: cap, after: .seconds(2))
                let (statuses, acknowledged) = try await Harness.withIngress(configuration, environment: topology.environment) { url in
                    try await Harness.withWorker(configuration, consumer: "m1", environment: topology.environment) { worker in
                        let start = ContinuousClock.now
                        let statuses = try await withThrowingTaskGroup(of: [Int].self) { group in
                            group.addTask {
                                // All of the source's slots, shard 0's among them, move 2 s in.
                                try await Task.sleep(for: .seconds(2))
                                _ = try await topology.reshard(from: source.port, to: target.port, slots: HashSlot.count)
                                print("reshard: the move took until \(ContinuousClock.now - start) into the load")
                                load.moveEnded()
                                return []
                            }
                            for _ in 0..<4 {
                                group.addTask {
                                    var statuses: [Int] = []
                                    while let index = load.next() {
                                        let webhook = SampleWebhooks.mailgun(
                                            samples[index], signingKey: PipelineTests.mailgunKey, signedAt: Date())
                                        statuses.append(
                                            try await HTTP.request(url + "/webhooks/mailgun", headers: webhook.headers, body: webhook.body)
                                                .status)
                                        try await Task.sleep(for: .milliseconds(100))
                                    }
                                    return statuses
                                }
                            }
                            return try await group.reduce(into: []) { $0 += $1 }
                        }
                        #expect(!load.ranOutOfSamples, "the move ended before \(cap) requests were sent")
                        let count = statuses.count
                        try await TestEnvironment.eventually(timeout: .seconds(60), "\(count) events stored") {
                            try await store.eventCount() == count
                        }
                        try await RedisTopology.waitUntilDrained(redis, configuration)
                        return (statuses, worker.stats.snapshot.acknowledged)
                    }
                }
                let count = statuses.count
                let moved = try await redis.node(for: shard0)
                print(
                    "reshard: shard 0 moved from \(source) to \(moved); statuses \(Dictionary(grouping: statuses, by: { $0 }).mapValues(\.count))"
                )
                #expect(moved == target, "shard 0 now lives on the target")
                #expect(statuses.allSatisfy { $0 == 200 }, "redirects are followed, not answered with 503")
                // Each entry appended once and acknowledged once: none lost, none read twice.
                #expect(try await RedisTopology.entriesAdded(redis, layout).reduce(0, +) == count)
                #expect(acknowledged == count)
                #expect(try await store.eventCount() == count)
                await redis.close()
            }
        }
    }

    @Test func aSentinelMasterKilledUnderLoadLosesNoAcknowledgedEvent() async throws {
        try await RedisTopology.with("sentinel", port: 17400, password: "data-pw", sentinelPassword: "sentinel-pw") { topology in
            try await TestEnvironment.withDatabase { database, store in
                var configuration = topology.sentinel(TestEnvironment.configuration(database: database))
                configuration.redis.streamShards = 2
                configuration.redis.replicasToAcknowledge = 1
                let redis = try topology.client(configuration)
                let master = try await redis.node(for: configuration.redis.stream)
                #expect(master.port == 17400)
                // The sentinels turn the restarted old master into a replica some 15 s after it is back.
                try await Self.killMasterUnderLoad(
                    configuration, store: store, database: database, redis: redis, environment: topology.environment,
                    refusingFor: .seconds(35)
                ) {
                    try topology.kill(port: master.port)
                } restart: {
                    try await topology.restart(port: master.port)
                }
                #expect(try await redis.node(for: configuration.redis.stream).port == 17401, "the replica was promoted")
                // The failover's CONFIG REWRITE went to the nodes' own copies, not the repository's file.
                let shared = try String(
                    contentsOfFile: RedisTopology.script.replacingOccurrences(
                        of: "Scripts/redis-topology", with: "Config/redis/postwire.conf"), encoding: .utf8)
                #expect(!shared.contains("CONFIG REWRITE"))
                await redis.close()
            }
        }
    }

    /// Posts 600 Mailgun events, one request each, from four posters at about 40 requests/s; runs
    /// `kill` 3 s in and `restart` 8 s later (the killed node comes back as a replica: until a
    /// replica exists again, `replicasToAcknowledge = 1` cannot be met and 503 is the right answer).
    /// Every request answered 2xx must have its event in PostgreSQL; the others must be 503s, and
    /// only within `window` of the kill. Then, as an ESP would, the 503s are sent
    /// again until accepted: every event is then stored, once.
    static func killMasterUnderLoad(
        _ configuration: PostwireConfiguration, store: EventStore, database: String, redis: RedisClient,
        environment: [String: String],
        refusingFor window: Duration, kill: @escaping @Sendable () throws -> Void, restart: @escaping @Sendable () async throws -> Void
    ) async throws {
        let count = 600
        let base = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / 3600).rounded(.down) * 3600 - 3600)
        let samples = PipelineTests.samples(count, kinds: SampleWebhooks.mailgunEvents, prefix: TestEnvironment.unique("kill"), base: base)
        let start = ContinuousClock.now
        let killedAt = ContinuousClock.now + .seconds(3)
        try await Harness.withIngress(configuration, environment: environment) { url in
            try await Harness.withWorker(configuration, consumer: "k1", environment: environment) { _ in
                let answers = try await withThrowingTaskGroup(of: [(Int, Int, Duration)].self) { group in
                    group.addTask {
                        try await Task.sleep(until: killedAt)
                        try kill()
                        try await Task.sleep(until: killedAt + .seconds(8))
                        try await restart()
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
                let refusedAt = refused.map(\.2)
                print(
                    "failover: \(accepted.count) accepted, \(refused.count) answered \(Set(refused.map(\.1)).sorted()), "
                        + "between \(refusedAt.min().map { "\($0 - killSecond)" } ?? "-") and \(refusedAt.max().map { "\($0 - killSecond)" } ?? "-") after the kill"
                )
                #expect(refused.allSatisfy { $0.1 == 503 }, "only 503 while failing over")
                #expect(refused.allSatisfy { $0.2 >= killSecond && $0.2 < killSecond + window }, "503 only around the failover")
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

/// Hands out request indices to the posters until `after` has passed since the move ended, so the
/// load always spans the whole move; `ranOutOfSamples` says the cap came first.
final class LoadOutlastingAMove: Sendable {
    private struct State {
        var next = 0
        var moveEnded: ContinuousClock.Instant?
        var ranOut = false
    }
    private let cap: Int
    private let after: Duration
    private let state = Mutex(State())

    init(cap: Int, after: Duration) {
        self.cap = cap
        self.after = after
    }

    func moveEnded() { state.withLock { $0.moveEnded = .now } }

    func next() -> Int? {
        state.withLock { state in
            if let ended = state.moveEnded, ContinuousClock.now - ended >= after { return nil }
            guard state.next < cap else {
                state.ranOut = true
                return nil
            }
            defer { state.next += 1 }
            return state.next
        }
    }

    var ranOutOfSamples: Bool { state.withLock(\.ranOut) }
}
