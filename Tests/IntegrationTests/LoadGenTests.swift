import EventStore
import Foundation
import Histogram
import LoadGen
import PostgresNIO
import PostwireConfig
import RedisStreams
import Testing

/// `postwire loadgen`'s engine against a real ingress: every request is answered as a correct
/// ingress must (forged ones refused, the rest accepted), and what it counts as accepted is
/// exactly what reached the stream.
@Suite struct LoadGenTests {
    @Test func loadAgainstARealIngressIsCountedExactly() async throws {
        let configuration = TestEnvironment.configuration(database: "unused")
        let redis = TestEnvironment.redis()
        let plan = TrafficPlan(
            mix: ["mailgun": 2, "sendgrid": 1], batchSize: 10, duplicateShare: 0.2, badShare: 0.1, mailgunKey: PipelineTests.mailgunKey,
            sendgridKey: PipelineTests.sendgridKey)
        let report = try await Harness.withIngress(configuration, environment: PipelineTests.environment) { url in
            let port = try #require(URL(string: url)?.port)
            return try await LoadRun.run(host: "127.0.0.1", port: port, plan: plan, shape: LoadShape(concurrency: 8, count: 300))
        }
        #expect(report.requests == 300)
        #expect(report.latency.totalCount == 300)
        #expect(report.unexpected == 0)
        #expect(report.cpuSeconds > 0 && report.cpuSeconds < 60, "the generator's own CPU time while sending: \(report.cpuSeconds) s")
        #expect(Set(report.statuses.keys).isSubset(of: [200, 403, 406]), "\(report.statuses)")
        #expect((report.statuses[403] ?? 0) + (report.statuses[406] ?? 0) > 0, "forged requests were sent and refused")
        #expect(try await redis.xlen(configuration.redis.stream) == report.eventsAccepted)
        print(
            "loadgen: 300 requests (\(report.statuses)), \(report.eventsAccepted) events accepted = XLEN, p50 \(report.latency.valueAtPercentile(50)) µs, p99 \(report.latency.valueAtPercentile(99)) µs"
        )
        await redis.close()
    }

    /// Each profile, through a real ingress and worker into PostgreSQL, makes the messages and
    /// recipients it says it makes.
    @Test(arguments: TrafficProfile.allCases) func eachProfileMakesTheMessagesAndRecipientsItSays(_ profile: TrafficProfile) async throws {
        try await TestEnvironment.withDatabase { database, store in
            let configuration = TestEnvironment.configuration(database: database)
            let plan = TrafficPlan(
                mix: ["mailgun": 1, "sendgrid": 1], batchSize: 50, profile: profile, mailgunKey: PipelineTests.mailgunKey,
                sendgridKey: PipelineTests.sendgridKey)
            let report = try await Harness.withIngress(configuration, environment: PipelineTests.environment) { url in
                try await Harness.withWorker(configuration, consumer: "p1") { _ in
                    let port = try #require(URL(string: url)?.port)
                    let report = try await LoadRun.run(
                        host: "127.0.0.1", port: port, plan: plan, shape: LoadShape(concurrency: 2, count: 200))
                    try await TestEnvironment.eventually(timeout: .seconds(60), "\(report.eventsAccepted) events stored") {
                        try await store.eventCount() == report.eventsAccepted
                    }
                    return report
                }
            }
            #expect(report.unexpected == 0 && report.eventsAccepted > 4000, "\(report.statuses)")
            // Where each profile draws its recipients from.
            let pattern =
                switch profile {
                case .random: "load%@example.com"
                case .worst: "load-%@example.com"
                case .typical: "list%@example.com"
                }
            let sql = """
                WITH m AS (
                    SELECT provider, message_id, count(DISTINCT lower(recipient)) AS recipients,
                           bool_or(event_type IN ('opened', 'clicked')) AS engaged, bool_or(event_type = 'delivered') AS delivered,
                           count(*) FILTER (WHERE event_type = 'opened') AS opens, bool_or(event_type = 'bounced') AS bounced
                    FROM email_events GROUP BY 1, 2
                )
                SELECT (SELECT count(*) FROM email_events)::int8, count(*)::int8,
                       (SELECT count(DISTINCT lower(recipient)) FROM email_events)::int8,
                       count(*) FILTER (WHERE recipients > 1)::int8, count(*) FILTER (WHERE engaged AND NOT delivered)::int8,
                       count(*) FILTER (WHERE opens > 1)::int8, count(*) FILTER (WHERE bounced)::int8,
                       (SELECT count(*) FROM email_events WHERE recipient NOT LIKE '\(pattern)')::int8
                FROM m
                """
            var row: (Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64)?
            for try await values in try await store.client.query(PostgresQuery(unsafeSQL: sql), logger: TestEnvironment.logger).decode(
                (Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64).self)
            {
                row = values
            }
            let (events, messages, recipients, sharedMessages, engagedUndelivered, reopened, bounced, offList) = try #require(row)
            print(
                "loadgen profile \(profile): \(events) events, \(messages) messages, \(recipients) recipients, \(reopened) opened more than once, \(bounced) bounced"
            )
            #expect(sharedMessages == 0, "a message goes to one recipient")
            #expect(offList == 0, "every recipient is drawn from \(pattern)")
            switch profile {
            case .random:
                // One kind of each SendGrid sample and Mailgun sample: no life in order, so some
                // message is opened or clicked with no delivery of its own.
                #expect(engagedUndelivered > 0)
            case .worst:
                #expect(messages == events && recipients == events)
            case .typical:
                // 400 messages in flight (200 a connection per provider) and about 4.7 events each: most started ones end.
                #expect(
                    Double(events) / Double(messages) > 2.5 && Double(events) / Double(messages) < 6,
                    "\(events) events, \(messages) messages")
                #expect(engagedUndelivered == 0, "a message is opened or clicked only after its delivery")
                #expect(reopened > 0 && bounced > 0 && bounced < messages / 5)
            }
        }
    }
}
