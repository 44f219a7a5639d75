import Crypto
import DispatcherApp
import EmailEvents
import EventStore
import Foundation
import PostgresNIO
import PostwireConfig
import Testing

/// Outbound webhooks against real PostgreSQL, real dispatchers and real receivers that verify
/// each request with the PyPI `standardwebhooks` package (docs/DELIVERY.md).
@Suite struct DeliveryTests {
    static func event(
        _ key: String, _ type: EventType, provider: Provider = .sendgrid, campaign: String? = nil, at: Date = Date()
    )
        -> EmailEvent
    {
        var event = EmailEvent(
            provider: provider, source: "default", type: type, espEvent: type.rawValue, eventKey: key, occurredAt: at, receivedAt: Date(),
            raw: Array("{}".utf8))
        event.setRecipient("\(key)@example.com")
        event.setSender("news@Mail.Example")
        event.messageId = "m-\(key)"
        event.campaign = campaign
        return event
    }

    /// The payload's `data.id`, computed here from its definition rather than read from SQL.
    static func eventID(_ provider: Provider, _ key: String) -> String {
        "evt_" + SHA256.hash(data: Array("\(provider.rawValue):\(key)".utf8)).prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    static func deliveries(_ store: EventStore, _ endpoint: String) async throws -> [DeliveryRow] {
        try await store.deliveries(DeliverySelection(endpoint: endpoint), limit: 100_000)
    }

    /// The outbox is written by the batch transaction: a batch written again (a worker's retry, a
    /// replayed stream entry, an ESP's duplicate) offers nothing again; filters and disabled
    /// endpoints hold back what they should.
    @Test func theBatchTransactionOffersEachNewEventOncePerMatchingEndpoint() async throws {
        try await TestEnvironment.withDatabase { database, store in
            let secret = WebhookSecret.generate()
            try await store.addEndpoint(EndpointDraft(name: "all", url: "http://127.0.0.1:9/a", secret: secret))
            try await store.addEndpoint(
                EndpointDraft(
                    name: "trouble", url: "http://127.0.0.1:9/b", secret: secret,
                    filter: EndpointFilter(eventTypes: ["email.bounced", "complained"])))
            try await store.addEndpoint(
                EndpointDraft(
                    name: "spring-mailgun", url: "http://127.0.0.1:9/c", secret: secret,
                    filter: EndpointFilter(providers: ["mailgun"], campaigns: ["spring"], senderDomains: ["MAIL.example"])))
            try await store.addEndpoint(EndpointDraft(name: "off", url: "http://127.0.0.1:9/d", secret: secret))
            try await store.setEndpoint("off", enabled: false)

            let events = [
                Self.event("o1", .delivered), Self.event("o2", .bounced), Self.event("o3", .complained),
                Self.event("o4", .opened, provider: .mailgun, campaign: "spring"),
                Self.event("o5", .bounced, provider: .mailgun, campaign: "fall"),
            ]
            let first = try await store.write(events)
            #expect(first.stored == 5)
            let again = try await store.write(events + [Self.event("o6", .clicked, provider: .mailgun, campaign: "spring")])
            #expect(again.stored == 1 && again.duplicates == 5)

            func keys(_ endpoint: String) async throws -> Set<String> { Set(try await Self.deliveries(store, endpoint).map(\.eventKey)) }
            #expect(try await Self.deliveries(store, "all").count == 6)
            #expect(try await keys("all") == ["o1", "o2", "o3", "o4", "o5", "o6"])
            #expect(try await keys("trouble") == ["o2", "o3", "o5"])
            #expect(try await keys("spring-mailgun") == ["o4", "o6"])
            #expect(try await keys("off").isEmpty)
            let pending = try await store.backlogs().first { $0.endpoint == "all" }
            #expect(pending?.pending == 6 && pending?.due == 6)

            // An event retention removed before its delivery was sent: claimed with no payload.
            try await TestEnvironment.withClient(database: database) { client in
                try await client.query("DELETE FROM email_events WHERE event_key = 'o1'", logger: TestEnvironment.logger)
            }
            let all = try #require(try await store.endpoint(named: "all"))
            let claimed = try await store.claimDeliveries(endpoint: all.id, limit: 10, lease: 60).deliveries
            #expect(claimed.count == 6)
            #expect(claimed.filter { $0.payload == nil }.map(\.eventID) == [Self.eventID(.sendgrid, "o1")])
        }
    }

    /// The whole way out, to a real receiver: every event arrives once, signed so that the
    /// independent verifier accepts it, with the documented payload; a batched endpoint gets arrays.
    @Test func deliveriesArriveSignedWithTheDocumentedPayload() async throws {
        try await TestEnvironment.withDatabase { database, store in
            let secret = WebhookSecret.generate()
            let single = try await WebhookReceiver.start(secrets: [secret])
            let batched = try await WebhookReceiver.start(secrets: [secret])
            defer {
                Task {
                    await single.stop()
                    await batched.stop()
                }
            }
            try await store.addEndpoint(EndpointDraft(name: "single", url: single.url, secret: secret))
            try await store.addEndpoint(EndpointDraft(name: "batched", url: batched.url, secret: secret, batchSize: 10))
            var configuration = TestEnvironment.configuration(database: database)
            DispatcherHarness.configure(&configuration)

            let at = Date(timeIntervalSince1970: 1_796_000_000.123456)
            var bounce = Self.event("p1", .bounced, at: at)
            bounce.bounceClass = .hard
            bounce.smtpCode = 550
            bounce.tags = ["welcome"]
            bounce.metadata = ["user": "42"]
            bounce.enhancedStatus = "5.1.1"
            bounce.mtaResponse = nil
            var click = Self.event("p2", .clicked, provider: .mailgun, campaign: "spring")
            click.clickURL = "https://shop.example/?a=1"
            click.userAgent = "Mozilla/5.0"
            click.ip = "192.0.2.7"
            click.isFirst = true
            click.isMachineOpen = false
            click.description = "clicked \"twice\" – ünïcode"
            var rejected = Self.event("p3", .rejected)
            rejected.rejectReason = .spam
            let events = [bounce, click, rejected] + (4...25).map { Self.event("p\($0)", .delivered) }
            _ = try await store.write(events)
            let expected = Set(events.map { Self.eventID($0.provider, $0.eventKey) })

            try await DispatcherHarness.withDispatcher(configuration) {
                try await TestEnvironment.eventually("every event reached both receivers") {
                    Set(single.acceptedEvents().keys) == expected && Set(batched.acceptedEvents().keys) == expected
                }
            }
            for receiver in [single, batched] {
                for request in receiver.requests() {
                    #expect(request.verifiedBy == [0], "standardwebhooks verified \(request.webhookID)")
                    #expect(request.schemaErrors.isEmpty, "the payload follows the published schema: \(request.schemaErrors)")
                    #expect(request.answered == 204)
                }
            }
            // One event per request, webhook-id the event's id; arrays of at most 10 on the batched one.
            #expect(single.requests().allSatisfy { $0.events.count == 1 && $0.webhookID == $0.events[0] })
            #expect(batched.requests().allSatisfy { $0.events.count <= 10 && $0.webhookID.hasPrefix("batch_") })
            #expect(batched.requests().count >= 3)
            #expect(single.acceptedEvents().values.allSatisfy { $0 == 1 })

            let request = try #require(single.requests().first { $0.events == [Self.eventID(.sendgrid, "p1")] })
            #expect(request.types == ["email.bounced"])
            let data = try #require(request.data.first)
            #expect(data["provider"] == "sendgrid" && data["event_key"] == "p1" && data["type"] == "bounced")
            #expect(data["occurred_at"] == "2026-11-30T00:53:20.123456Z")
            #expect(data["recipient"] == "p1@example.com" && data["sender_domain"] == "mail.example")
            #expect(data["bounce_class"] == "hard" && data["smtp_code"] == "550" && data["message_id"] == "m-p1")
            #expect(data["mta_response"] == nil, "absent fields are left out, not null")

            let rows = try await Self.deliveries(store, "single")
            #expect(rows.count == 25 && rows.allSatisfy { $0.status == "delivered" && $0.attempts == 1 && $0.lastStatus == 204 })
            let attempts = try await store.attempts(delivery: try #require(rows.first).id)
            #expect(attempts.count == 1 && attempts[0].status == 204 && attempts[0].latencyMilliseconds > 0)
        }
    }

    /// 410 Gone: the endpoint is disabled with an alert, nothing more is sent to it, and a healthy
    /// endpoint beside it receives everything (the witness that the dispatcher went on).
    @Test func aGoneReceiverDisablesItsEndpoint() async throws {
        try await TestEnvironment.withDatabase { database, store in
            let secret = WebhookSecret.generate()
            let gone = try await WebhookReceiver.start(secrets: [secret], ["--status", "410"])
            let witness = try await WebhookReceiver.start(secrets: [secret])
            defer {
                Task {
                    await gone.stop()
                    await witness.stop()
                }
            }
            try await store.addEndpoint(EndpointDraft(name: "gone", url: gone.url, secret: secret))
            try await store.addEndpoint(EndpointDraft(name: "witness", url: witness.url, secret: secret))
            var configuration = TestEnvironment.configuration(database: database)
            DispatcherHarness.configure(&configuration)
            configuration.dispatcher.concurrencyPerEndpoint = 1

            try await DispatcherHarness.withDispatcher(configuration) {
                _ = try await store.write((0..<5).map { Self.event("g\($0)", .delivered) })
                try await TestEnvironment.eventually("the endpoint is disabled") {
                    try await store.endpoint(named: "gone")?.enabled == false
                }
                _ = try await store.write((5..<10).map { Self.event("g\($0)", .delivered) })
                try await TestEnvironment.eventually("the witness has all ten") { witness.acceptedEvents().count == 10 }
            }
            #expect(gone.requests().count == 1, "one request, answered 410, then nothing")
            let endpoint = try #require(try await store.endpoint(named: "gone"))
            #expect(endpoint.disabledReason?.contains("410") == true)
            let rows = try await Self.deliveries(store, "gone")
            #expect(rows.count == 5, "events stored after it was disabled are not offered to it")
            #expect(rows.allSatisfy { $0.status == "pending" }, "they wait for the endpoint to be enabled again")
            let alerts = try await TestEnvironment.withClient(database: database) { client in
                var kinds: [String] = []
                for try await kind in try await client.query("SELECT kind FROM webhook_alerts", logger: TestEnvironment.logger)
                    .decode(String.self)
                { kinds.append(kind) }
                return kinds
            }
            #expect(alerts == ["disabled_gone"])
        }
    }

    /// A receiver that never answers: each attempt times out and is recorded, and an endpoint beside
    /// it is served as fast as with no hanging receiver at all.
    @Test func aHangingReceiverDelaysNoOtherEndpoint() async throws {
        try await TestEnvironment.withDatabase { database, store in
            let secret = WebhookSecret.generate()
            let hanging = try await WebhookReceiver.start(secrets: [secret], ["--hang"])
            let fast = try await WebhookReceiver.start(secrets: [secret])
            defer {
                Task {
                    await hanging.stop()
                    await fast.stop()
                }
            }
            try await store.addEndpoint(EndpointDraft(name: "hanging", url: hanging.url, secret: secret))
            try await store.addEndpoint(EndpointDraft(name: "fast", url: fast.url, secret: secret))
            var configuration = TestEnvironment.configuration(database: database)
            DispatcherHarness.configure(&configuration)

            // Latency: the receiver's arrival time minus the commit time, per event; first with the
            // hanging endpoint disabled, then with it enabled and four of its requests hanging.
            // Medians, so that a pause of this busy machine in either phase does not decide.
            try await store.setEndpoint("hanging", enabled: false)
            let (alone, beside) = try await DispatcherHarness.withDispatcher(configuration) {
                var round = 0
                func latencies(_ count: Int) async throws -> [Double] {
                    var latencies: [Double] = []
                    for _ in 0..<count {
                        let committed = Date()
                        _ = try await store.write([Self.event("h\(round)", .delivered)])
                        let id = Self.eventID(.sendgrid, "h\(round)")
                        round += 1
                        try await TestEnvironment.eventually("the fast endpoint has it") { fast.acceptedEvents()[id] != nil }
                        let request = try #require(fast.requests().first { $0.events == [id] })
                        latencies.append(request.at.timeIntervalSince(committed))
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    return latencies.sorted()
                }
                let alone = try await latencies(10)
                try await store.setEndpoint("hanging", enabled: true)
                _ = try await store.write((0..<4).map { Self.event("pre\($0)", .delivered) })
                try await TestEnvironment.eventually("four requests hang") { hanging.requests().count >= 4 }
                let beside = try await latencies(10)
                #expect(hanging.requests().count >= 4, "they hung while the fast endpoint was measured")
                try await TestEnvironment.eventually("the hanging endpoint's first attempts timed out") {
                    try await store.deliveries(DeliverySelection(endpoint: "hanging"), limit: 100).contains { $0.lastError == "timed out" }
                }
                return (alone, beside)
            }
            let (medianAlone, medianBeside) = (alone[alone.count / 2], beside[beside.count / 2])
            print(
                "fast endpoint alone: median \(Int(medianAlone * 1000)) ms, worst \(Int(alone.last! * 1000)) ms; beside a hanging one: median \(Int(medianBeside * 1000)) ms, worst \(Int(beside.last! * 1000)) ms"
            )
            #expect(medianBeside < medianAlone + 0.25, "the hanging endpoint's 2 s timeouts did not hold the fast one up")
            let timedOut = try await Self.deliveries(store, "hanging").filter { $0.lastError == "timed out" }
            #expect(!timedOut.isEmpty)
            let attempt = try #require(try await store.attempts(delivery: timedOut[0].id).first)
            #expect(attempt.status == nil && attempt.error == "timed out" && attempt.latencyMilliseconds >= 1900)
            #expect(timedOut.allSatisfy { $0.status == "pending" && $0.dueAt > $0.createdAt }, "retried on the schedule")
        }
    }

    /// A secret rotated while events flow: the receiver, holding both secrets, sees requests signed
    /// by the old one only, then by both during the overlap, then by the new one only; every one
    /// verifies.
    @Test func aSecretRotatedMidStreamKeepsEveryRequestVerifiable() async throws {
        try await TestEnvironment.withDatabase { database, store in
            let old = WebhookSecret.generate()
            let new = WebhookSecret.generate()
            let receiver = try await WebhookReceiver.start(secrets: [old, new])
            defer { Task { await receiver.stop() } }
            try await store.addEndpoint(EndpointDraft(name: "rotating", url: receiver.url, secret: old))
            var configuration = TestEnvironment.configuration(database: database)
            DispatcherHarness.configure(&configuration)

            try await DispatcherHarness.withDispatcher(configuration) {
                var n = 0
                func flow(until condition: () -> Bool) async throws {
                    let deadline = ContinuousClock.now + .seconds(30)
                    while !condition(), ContinuousClock.now < deadline {
                        _ = try await store.write([Self.event("r\(n)", .delivered)])
                        n += 1
                        try await Task.sleep(for: .milliseconds(50))
                    }
                }
                try await flow { receiver.requests().count >= 5 }
                // An overlap long enough that a busy machine still sends within it.
                try await store.rotateSecret("rotating", to: new, overlap: 8)
                try await flow { receiver.requests().contains { $0.verifiedBy == [0, 1] } }
                try await flow { receiver.requests().suffix(5).allSatisfy { $0.verifiedBy == [1] } && receiver.requests().count > 20 }
                let total = n
                try await TestEnvironment.eventually("all \(total) events arrived") { receiver.acceptedEvents().count == total }
            }
            let signedBy = receiver.requests().map(\.verifiedBy)
            #expect(signedBy.allSatisfy { !$0.isEmpty }, "every request verified with one of the secrets")
            // Old only, then both, then new only: never back.
            let phases = signedBy.map { $0 == [0] ? 0 : $0 == [0, 1] ? 1 : 2 }
            #expect(phases == phases.sorted(), "\(phases)")
            #expect(Set(phases) == [0, 1, 2])
        }
    }
}
