import Crypto
import EmailEvents
import EventStore
import Foundation
import NIOConcurrencyHelpers
import PostwireConfig
import ProviderSamples
import RedisStreams
import Testing

/// Outbound delivery under faults: signed Mailgun and SendGrid traffic with ESP duplicates through
/// a running ingress, worker processes and dispatcher processes SIGKILLed while it flows. Every
/// new event that passes a filter reaches its endpoint at least once and is recorded delivered
/// exactly once; no duplicate is offered; what passes no filter is not sent.
@Suite(.serialized) struct DeliveryChaosTests {
    static let mailgunKey = "delivery-chaos-mailgun-key"
    static let sendgridKey = P256.Signing.PrivateKey()

    @Test func killedWorkersAndDispatchersLoseNothingAndOfferNothingTwice() async throws {
        try await TestEnvironment.withDatabase { database, store in
            let configuration = {
                var configuration = TestEnvironment.configuration(database: database)
                configuration.worker.claimMinIdleMilliseconds = 1000
                configuration.worker.claimIntervalMilliseconds = 300
                configuration.worker.batchSize = 50
                DispatcherHarness.configure(&configuration)
                return configuration
            }()
            let environment = [
                "POSTWIRE_SECRET_MAILGUN_DEFAULT": Self.mailgunKey,
                "POSTWIRE_SECRET_SENDGRID_DEFAULT": Self.sendgridKey.publicKey.derRepresentation.base64EncodedString(),
            ]
            let secret = WebhookSecret.generate()
            let receivers = [
                "all": try await WebhookReceiver.start(secrets: [secret]),
                "trouble": try await WebhookReceiver.start(secrets: [secret]),
                "sendgrid-batched": try await WebhookReceiver.start(secrets: [secret]),
                "nothing": try await WebhookReceiver.start(secrets: [secret]),
            ]
            defer { Task { for receiver in receivers.values { await receiver.stop() } } }
            try await store.addEndpoint(EndpointDraft(name: "all", url: receivers["all"]!.url, secret: secret))
            try await store.addEndpoint(
                EndpointDraft(
                    name: "trouble", url: receivers["trouble"]!.url, secret: secret,
                    filter: EndpointFilter(eventTypes: ["bounced", "email.complained"])))
            try await store.addEndpoint(
                EndpointDraft(
                    name: "sendgrid-batched", url: receivers["sendgrid-batched"]!.url, secret: secret,
                    filter: EndpointFilter(providers: ["sendgrid"]), batchSize: 10))
            try await store.addEndpoint(
                EndpointDraft(
                    name: "nothing", url: receivers["nothing"]!.url, secret: secret, filter: EndpointFilter(campaigns: ["no-such-campaign"])
                ))

            let redis = TestEnvironment.redis()
            try await redis.createGroup(configuration.redis.stream, group: configuration.worker.group)
            let children = NIOLockedValueBox<(workers: [ChildProcess], dispatchers: [ChildProcess])>(([], []))
            let spawned = NIOLockedValueBox(0)
            @Sendable func spawnWorker() throws {
                let n = spawned.withLockedValue {
                    $0 += 1
                    return $0
                }
                let child = try ChildProcess.spawn(
                    TestEnvironment.binDirectory.appendingPathComponent("postwire-worker").path, [],
                    environment: WorkerCrashTests.workerEnvironment(configuration, consumer: "delivery-chaos-\(n)"))
                children.withLockedValue { $0.workers.append(child) }
            }
            @Sendable func spawnDispatcher() throws {
                let child = try DispatcherHarness.spawn(configuration)
                children.withLockedValue { $0.dispatchers.append(child) }
            }
            try spawnWorker()
            try spawnWorker()
            try spawnDispatcher()
            try spawnDispatcher()

            // Mailgun: delivered, bounced (failed/permanent), complained, opened; SendGrid:
            // processed, delivered, bounce, spamreport. Which endpoint wants which is written here.
            let run = TestEnvironment.unique("dchaos")
            let now = Date()
            let mailgunKinds: [(String, [String: String], Bool)] = [
                ("delivered", [:], false), ("failed", ["severity": "permanent"], true), ("complained", [:], true), ("opened", [:], false),
            ]
            let mailgun = (0..<160).map { i in
                let kind = mailgunKinds[i % 4]
                return (
                    SampleEvent(espEvent: kind.0, id: "\(run)-mg-\(i)", recipient: "u\(i)@example.com", occurredAt: now, extra: kind.1),
                    kind.2
                )
            }
            let sendgridKinds = [("processed", false), ("delivered", false), ("bounce", true), ("spamreport", true)]
            let sendgrid = (0..<8).map { b in
                (0..<25).map { i in
                    let kind = sendgridKinds[(b + i) % 4]
                    return (
                        SampleEvent(espEvent: kind.0, id: "\(run)-sg-\(b)-\(i)", recipient: "s\(b)-\(i)@example.com", occurredAt: now),
                        kind.1
                    )
                }
            }
            let expected: [String: Int] = [
                "all": mailgun.count + sendgrid.joined().count,
                "trouble": mailgun.filter(\.1).count + sendgrid.joined().filter(\.1).count,
                "sendgrid-batched": sendgrid.joined().count,
                "nothing": 0,
            ]

            let killed = NIOLockedValueBox((workers: 0, dispatchers: 0))
            let (accepted, sent) = try await Harness.withIngress(configuration, environment: environment) { url in
                try await withThrowingTaskGroup(of: (Int, Int).self) { group in
                    group.addTask {
                        for round in 0..<8 {
                            try await Task.sleep(for: .milliseconds(1000))
                            if round % 2 == 0,
                                let victim = children.withLockedValue({ $0.workers.isEmpty ? nil : $0.workers.removeFirst() })
                            {
                                victim.signal(SIGKILL)
                                _ = try? await victim.wait()
                                killed.withLockedValue { $0.workers += 1 }
                                try spawnWorker()
                            }
                            if let victim = children.withLockedValue({ $0.dispatchers.isEmpty ? nil : $0.dispatchers.removeFirst() }) {
                                victim.signal(SIGKILL)
                                _ = try? await victim.wait()
                                killed.withLockedValue { $0.dispatchers += 1 }
                                try spawnDispatcher()
                            }
                        }
                        return (0, 0)
                    }
                    // Every Mailgun event twice and every SendGrid batch twice, each signed anew.
                    group.addTask {
                        try await SignedTraffic.mailgun(mailgun.map(\.0), url: url, key: Self.mailgunKey, pause: .milliseconds(20))
                    }
                    group.addTask {
                        try await SignedTraffic.sendgrid(
                            sendgrid.map { $0.map(\.0) }, url: url, key: Self.sendgridKey, copies: 2, pause: .milliseconds(400))
                    }
                    var totals = (0, 0)
                    for try await (a, s) in group { totals = (totals.0 + a, totals.1 + s) }
                    return totals
                }
            }
            #expect(accepted == sent, "every request was accepted (\(accepted) of \(sent))")
            try await Harness.waitUntilDrained(redis, configuration, timeout: .seconds(90))
            #expect(try await store.eventCount() == expected["all"]!)

            try await TestEnvironment.eventually(timeout: .seconds(90), "every delivery recorded delivered") {
                try await store.backlogs().allSatisfy { $0.pending == 0 }
            }
            for child in children.withLockedValue({ $0.workers + $0.dispatchers }) {
                child.signal(SIGTERM)
                _ = try await child.wait()
            }
            await redis.close()

            for (name, receiver) in receivers.sorted(by: { $0.key < $1.key }) {
                let rows = try await store.deliveries(DeliverySelection(endpoint: name), limit: 100_000)
                #expect(rows.count == expected[name], "\(name): offered \(rows.count), expected \(expected[name]!)")
                #expect(rows.allSatisfy { $0.status == "delivered" }, "\(name): all recorded delivered")
                #expect(Set(rows.map { "\($0.provider):\($0.eventKey)" }).count == rows.count, "\(name): each event offered once")
                let offered = Set(rows.map { DeliveryTests.eventID(Provider(rawValue: $0.provider)!, $0.eventKey) })
                let received = receiver.acceptedEvents()
                #expect(Set(received.keys) == offered, "\(name): received exactly the events offered, each at least once")
                // A dispatcher killed while writing a request leaves it torn; every whole one verifies.
                let whole = receiver.requests().filter { !$0.torn }
                let unverified = whole.filter { $0.verifiedBy.isEmpty }.map { "\($0.webhookID) at \($0.at.timeIntervalSince1970)" }
                #expect(unverified.isEmpty, "\(name): every request verified; not: \(unverified)")
                #expect(whole.allSatisfy { $0.schemaErrors.isEmpty }, "\(name): every body follows the schema")
                let resent = received.values.filter { $0 > 1 }.count
                let torn = receiver.requests().count - whole.count
                print(
                    "\(name): \(rows.count) delivered, \(receiver.requests().count) requests (\(torn) torn), \(resent) events received more than once"
                )
            }
            let trouble = receivers["trouble"]!.requests().flatMap(\.types)
            #expect(Set(trouble).isSubset(of: ["email.bounced", "email.complained"]))
            #expect(receivers["nothing"]!.requests().isEmpty)
            #expect(receivers["sendgrid-batched"]!.requests().allSatisfy { $0.events.count <= 10 })
            let (workers, dispatchers) = killed.withLockedValue { $0 }
            print("killed \(workers) workers and \(dispatchers) dispatchers")
            #expect(workers >= 3 && dispatchers >= 6)
        }
    }
}
