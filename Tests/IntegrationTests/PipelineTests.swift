import Crypto
import EmailEvents
import EventStore
import Foundation
import PostwireConfig
import ProviderSamples
import Providers
import RedisStreams
import Testing

/// The whole path against real Redis and PostgreSQL: signed webhooks → ingress → stream →
/// worker → rows and hourly counts, exactly once.
@Suite(.serialized) struct PipelineTests {
    static let mailgunKey = "pipeline-mailgun-key"
    static let sendgridKey = P256.Signing.PrivateKey()
    static let environment = [
        "POSTWIRE_SECRET_MAILGUN_DEFAULT": mailgunKey,
        "POSTWIRE_SECRET_SENDGRID_DEFAULT": sendgridKey.publicKey.derRepresentation.base64EncodedString(),
    ]

    /// What each ESP event name must become, written down here rather than taken from the
    /// normalizers, so the counts are checked against an independent expectation.
    static let expectedType: [String: String] = [
        "accepted": "queued", "delivered": "delivered", "failed/temporary": "deferred", "failed/permanent": "bounced",
        "opened": "opened", "clicked": "clicked", "unsubscribed": "unsubscribed", "complained": "complained",
        "processed": "queued", "deferred": "deferred", "bounce": "bounced", "dropped": "rejected", "open": "opened",
        "click": "clicked", "spamreport": "complained", "unsubscribe": "unsubscribed", "group_unsubscribe": "unsubscribed",
        "group_resubscribe": "subscribed",
    ]

    struct CountKey: Hashable {
        var hour: Int64, provider: String, type: String, senderDomain: String, recipientDomain: String, campaign: String
    }

    static func samples(_ count: Int, kinds: [(String, [String: String])], prefix: String, base: Date) -> [SampleEvent] {
        let domains = ["gmail.test", "yahoo.test", "corp.test"]
        let campaigns: [String?] = ["spring", "fall", nil]
        return (0..<count).map { i in
            let kind = kinds[i % kinds.count]
            return SampleEvent(
                espEvent: kind.0, id: "\(prefix)-\(i)", recipient: "User\(i)@\(domains[i % 3])",
                occurredAt: base.addingTimeInterval(Double(i * 97 % 10_800)), campaign: campaigns[i % 3], extra: kind.1
            )
        }
    }

    static func expectedCounts(_ samples: [SampleEvent], provider: String, senderDomain: String) -> [CountKey: Int64] {
        var counts: [CountKey: Int64] = [:]
        for sample in samples {
            let name = sample.espEvent == "failed" ? "failed/\(sample.extra["severity"]!)" : sample.espEvent
            let key = CountKey(
                hour: Int64(sample.occurredAt.timeIntervalSince1970) / 3600 * 3600, provider: provider, type: expectedType[name]!,
                senderDomain: senderDomain, recipientDomain: String(sample.recipient.lowercased().split(separator: "@")[1]),
                campaign: sample.campaign ?? ""
            )
            counts[key, default: 0] += 1
        }
        return counts
    }

    static func actualCounts(_ store: EventStore) async throws -> [CountKey: Int64] {
        var counts: [CountKey: Int64] = [:]
        for row in try await store.hourlyCounts() {
            #expect(row.source == "default")
            let key = CountKey(
                hour: Int64(row.hour.timeIntervalSince1970), provider: row.provider, type: row.eventType,
                senderDomain: row.senderDomain, recipientDomain: row.recipientDomain, campaign: row.campaign
            )
            counts[key, default: 0] += row.count
        }
        return counts
    }

    static func postAll(_ url: String, _ webhooks: [SignedWebhook]) async throws -> [Int] {
        try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            var statuses = Array(repeating: 0, count: webhooks.count)
            var next = 0
            func add() {
                let index = next
                let webhook = webhooks[index]
                group.addTask { (index, try await HTTP.request(url, headers: webhook.headers, body: webhook.body).status) }
                next += 1
            }
            while next < min(16, webhooks.count) { add() }
            while let (index, status) = try await group.next() {
                statuses[index] = status
                if next < webhooks.count { add() }
            }
            return statuses
        }
    }

    @Test func twoHundredMailgunAndFiftySendGridEventsCountExactlyOnce() async throws {
        try await TestEnvironment.withDatabase { database, store in
            let configuration = TestEnvironment.configuration(database: database)
            let now = Date()
            let base = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 3600).rounded(.down) * 3600 - 7200)
            let run = TestEnvironment.unique("run")
            let mailgunSamples = Self.samples(200, kinds: SampleWebhooks.mailgunEvents, prefix: "mg-\(run)", base: base)
            let sendgridSamples = Self.samples(50, kinds: SampleWebhooks.sendgridEvents, prefix: "sg-\(run)", base: base)
            let mailgun = mailgunSamples.map { SampleWebhooks.mailgun($0, signingKey: Self.mailgunKey, signedAt: now) }
            let sendgrid = SampleWebhooks.sendgrid(sendgridSamples, privateKey: Self.sendgridKey, signedAt: now)
            let expected = Self.expectedCounts(mailgunSamples, provider: "mailgun", senderDomain: "mg.postwire.test")
                .merging(Self.expectedCounts(sendgridSamples, provider: "sendgrid", senderDomain: "")) { $0 + $1 }
            let redis = TestEnvironment.redis()

            try await Harness.withIngress(configuration, environment: Self.environment) { url in
                try await Harness.withWorker(configuration, consumer: "w1") { _ in
                    let statuses = try await Self.postAll(url + "/webhooks/mailgun", mailgun)
                    #expect(statuses.allSatisfy { $0 == 200 }, "statuses: \(Set(statuses))")
                    let batch = try await HTTP.request(url + "/webhooks/sendgrid/default", headers: sendgrid.headers, body: sendgrid.body)
                    #expect(batch.status == 200)
                    #expect(batch.body == #"{"accepted":50}"#)

                    try await TestEnvironment.eventually("250 rows") { try await store.eventCount() == 250 }
                    try await Harness.waitUntilDrained(redis, configuration)
                    #expect(try await store.eventCount(provider: "mailgun") == 200)
                    #expect(try await store.eventCount(provider: "sendgrid") == 50)
                    #expect(try await Self.actualCounts(store) == expected)

                    // The same requests again: Mailgun's tokens were seen (406, nothing appended); the
                    // SendGrid batch's signed timestamp and body were seen (403, nothing appended).
                    let replayed = try await Self.postAll(url + "/webhooks/mailgun", mailgun)
                    #expect(replayed.allSatisfy { $0 == 406 })
                    #expect(
                        try await HTTP.request(url + "/webhooks/sendgrid", headers: sendgrid.headers, body: sendgrid.body).status == 403)
                    // SendGrid retrying the batch signed anew: accepted, deduplicated by the worker.
                    let again = SampleWebhooks.sendgrid(sendgridSamples, privateKey: Self.sendgridKey, signedAt: now + 1)
                    #expect(try await HTTP.request(url + "/webhooks/sendgrid", headers: again.headers, body: again.body).status == 200)
                    // Mailgun retrying the same events with fresh signatures: accepted, counted once.
                    let resigned = mailgunSamples.map { SampleWebhooks.mailgun($0, signingKey: Self.mailgunKey, signedAt: Date()) }
                    #expect(try await Self.postAll(url + "/webhooks/mailgun/default", resigned).allSatisfy { $0 == 200 })
                    #expect(try await redis.xlen(configuration.redis.stream) == 250 + 50 + 200)

                    try await Harness.waitUntilDrained(redis, configuration)
                    #expect(try await store.eventCount() == 250)
                    #expect(try await Self.actualCounts(store) == expected)
                }
            }
            await redis.close()
        }
    }
}
