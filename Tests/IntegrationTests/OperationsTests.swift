import Crypto
import EmailEvents
import EventStore
import Foundation
import IngressApp
import Logging
import NIOConcurrencyHelpers
import PostgresNIO
import PostwireConfig
import ProviderSamples
import Providers
import RedisSetup
import RedisStreams
import ServiceLifecycle
import Testing
import WorkerApp

/// Issue 6: metrics on the operations port move by exactly the traffic sent; health endpoints; the
/// request log lines; every metric docs/METRICS.md promises is exported.
@Suite struct OperationsTests {
    /// Metric names in the tables of docs/METRICS.md.
    static func documentedMetrics() throws -> Set<String> {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/METRICS.md").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return Set(
            text.split(separator: "\n").compactMap { line -> String? in
                guard line.hasPrefix("| `postwire_") else { return nil }
                return line.split(separator: "`")[1].description
            })
    }

    final class Lines: Sendable {
        let box = NIOLockedValueBox<[String]>([])
        var all: [String] { box.withLockedValue { $0 } }
        func append(_ line: String) { box.withLockedValue { $0.append(line) } }
    }

    @Test func ingressMetricsMoveByExactlyTheTrafficAndLogsCarryNoSecrets() async throws {
        let configuration = {
            var configuration = TestEnvironment.configuration(database: "unused")
            configuration.ingress.metricsPort = 0
            // The one unreadable request is answered 422 but not kept: the budget's counter moves.
            configuration.ingress.quarantineEntriesPerHour = 0
            configuration.sources.append(
                SourceSettings(provider: "mailgun", name: "limited", rateLimit: RateLimitSettings(requestsPerSecond: 0.01, burst: 1)))
            return configuration
        }()
        let lines = Lines()
        let logger = Logger(label: "postwire.ingress") { label in JSONLogHandler(label: label, level: .info, write: lines.append) }
        let sendgridKey = P256.Signing.PrivateKey()
        let environment = [
            "POSTWIRE_SECRET_MAILGUN_DEFAULT": PipelineTests.mailgunKey,
            "POSTWIRE_SECRET_MAILGUN_LIMITED": PipelineTests.mailgunKey,
            "POSTWIRE_SECRET_SENDGRID_DEFAULT": sendgridKey.publicKey.derRepresentation.base64EncodedString(),
        ]
        let (ports, continuation) = AsyncStream<(String, Int)>.makeStream()
        let services = try Ingress.buildServices(
            configuration: configuration, secrets: Secrets(environment: environment), logger: logger,
            onServerRunning: { continuation.yield(("webhooks", $0.localAddress?.port ?? 0)) },
            onOperationsRunning: { continuation.yield(("operations", $0.localAddress?.port ?? 0)) })
        try await Harness.running(ServiceGroup(services: services, logger: TestEnvironment.logger)) {
            var bound: [String: Int] = [:]
            for await (name, port) in ports {
                bound[name] = port
                if bound.count == 2 { break }
            }
            let url = "http://127.0.0.1:\(try #require(bound["webhooks"]))"
            let operations = "http://127.0.0.1:\(try #require(bound["operations"]))"
            #expect(try await HTTP.request(operations + "/healthz", method: "GET").status == 200)
            #expect(try await HTTP.request(operations + "/readyz", method: "GET").status == 200)
            #expect(try await HTTP.request(url + "/metrics", method: "GET").status == 404, "the webhook port exposes no metrics")

            let run = TestEnvironment.unique("ops")
            let samples = ["delivered", "opened", "delivered"].enumerated().map { index, kind in
                SampleEvent(espEvent: kind, id: "\(run)-\(index)", recipient: "u\(index)@example.com", occurredAt: Date())
            }
            let good = samples.map { SampleWebhooks.mailgun($0, signingKey: PipelineTests.mailgunKey, signedAt: Date()) }
            let forged = SampleWebhooks.mailgun(samples[0], signingKey: "not-the-key", signedAt: Date())
            let stale = SampleWebhooks.mailgun(samples[0], signingKey: PipelineTests.mailgunKey, signedAt: Date() - 3600)
            let batch = SampleWebhooks.sendgrid(
                (0..<5).map { SampleEvent(espEvent: "open", id: "\(run)-sg-\($0)", recipient: "s\($0)@example.com", occurredAt: Date()) },
                privateKey: sendgridKey, signedAt: Date())
            let unparseable = Self.signedSendGrid(Array(#"[{"email":"no-event@example.com"}]"#.utf8), key: sendgridKey)
            let mailgunURL = url + "/webhooks/mailgun"
            var statuses: [Int] = []
            for webhook in good + [forged, good[0], stale] {
                statuses.append(try await HTTP.request(mailgunURL, headers: webhook.headers, body: webhook.body).status)
            }
            statuses.append(try await HTTP.request(url + "/webhooks/mailgun/nosuch", headers: good[0].headers, body: good[0].body).status)
            statuses.append(try await HTTP.request(url + "/webhooks/sendgrid", headers: batch.headers, body: batch.body).status)
            statuses.append(
                try await HTTP.request(url + "/webhooks/sendgrid", headers: ["content-type": "application/json"], body: batch.body).status)
            statuses.append(try await HTTP.request(url + "/webhooks/sendgrid", headers: unparseable.headers, body: unparseable.body).status)
            // A source limited to one request (then one per 100 s): the second gets 429 and Retry-After.
            let limited = samples.map { SampleWebhooks.mailgun($0, signingKey: PipelineTests.mailgunKey, signedAt: Date()) }
            statuses.append(
                try await HTTP.request(url + "/webhooks/mailgun/limited", headers: limited[0].headers, body: limited[0].body).status)
            let refused = try await HTTP.request(url + "/webhooks/mailgun/limited", headers: limited[1].headers, body: limited[1].body)
            statuses.append(refused.status)
            #expect(Int(refused.headers["retry-after"] ?? "") ?? 0 >= 90)
            #expect(statuses == [200, 200, 200, 406, 406, 406, 404, 200, 401, 422, 200, 429])

            let scrape = try await Scrape.fetch(operations + "/metrics")
            let requests = "postwire_ingress_requests_total"
            #expect(scrape[requests, ["provider": "mailgun", "source": "default", "status": "200"]] == 3)
            #expect(scrape[requests, ["provider": "mailgun", "source": "default", "status": "406"]] == 3)
            #expect(scrape[requests, ["provider": "mailgun", "source": "unknown", "status": "404"]] == 1)
            #expect(scrape[requests, ["provider": "sendgrid", "source": "default", "status": "200"]] == 1)
            #expect(scrape[requests, ["provider": "sendgrid", "source": "default", "status": "401"]] == 1)
            #expect(scrape[requests, ["provider": "sendgrid", "source": "default", "status": "422"]] == 1)
            let accepted = "postwire_ingress_events_accepted_total"
            #expect(scrape[accepted, ["provider": "mailgun", "event_type": "delivered"]] == 3, "2 on default, 1 on limited")
            #expect(scrape[accepted, ["provider": "mailgun", "event_type": "opened"]] == 1)
            #expect(scrape[accepted, ["provider": "sendgrid", "event_type": "opened"]] == 5)
            let auth = "postwire_ingress_auth_failures_total"
            #expect(scrape[auth, ["provider": "mailgun", "reason": "invalid"]] == 1)
            #expect(scrape[auth, ["provider": "mailgun", "reason": "replayed"]] == 1)
            #expect(scrape[auth, ["provider": "mailgun", "reason": "stale"]] == 1)
            #expect(scrape[auth, ["provider": "sendgrid", "reason": "missing"]] == 1)
            #expect(scrape["postwire_ingress_quarantined_total", ["provider": "sendgrid"]] == 1)
            #expect(scrape["postwire_ingress_elements_quarantined_total", ["provider": "sendgrid"]] == 1)
            #expect(scrape["postwire_ingress_quarantine_over_budget_total", ["provider": "sendgrid"]] == 1)
            #expect(scrape["postwire_ingress_rate_limited_total", ["provider": "mailgun", "source": "limited"]] == 1)
            #expect(scrape[requests, ["provider": "mailgun", "source": "limited", "status": "429"]] == 1)
            #expect(scrape["postwire_ingress_request_duration_seconds_count", ["provider": "mailgun"]] == 9)
            #expect(scrape["postwire_ingress_request_body_bytes_count", ["provider": "mailgun"]] == 7, "the 404 and the 429 read no body")
            #expect(
                scrape["postwire_ingress_request_body_bytes_sum", ["provider": "sendgrid"]]
                    == Double(2 * batch.body.count + unparseable.body.count))
            #expect(
                scrape["postwire_ingress_xadd_duration_seconds_count"] == 7,
                "3 Mailgun + the replay (refused by the store itself) + the SendGrid batch + the quarantined one + the limited source's")

            let documented = try Self.documentedMetrics().filter { $0.hasPrefix("postwire_ingress_") }
            #expect(documented.subtracting(scrape.names).isEmpty, "documented but not exported: \(documented.subtracting(scrape.names))")

            // One JSON `request` line per webhook request, with its id, and no secret anywhere.
            let requestLines = try lines.all.compactMap { line -> [String: String]? in
                let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String], "\(line)")
                return object["message"] == "request" ? object : nil
            }
            #expect(requestLines.count == 12)
            #expect(requestLines.map { $0["status"].flatMap(Int.init) ?? 0 } == statuses)
            #expect(requestLines.allSatisfy { $0["hb.request.id"]?.isEmpty == false && $0["provider"] != nil && $0["source"] != nil })
            #expect(requestLines.first?["events"] == "1")
            let secrets =
                [PipelineTests.mailgunKey, batch.headers[SendGridProvider.signatureHeader]!, "not-the-key"]
                + good.compactMap { Self.mailgunSignature($0) }
            let leaked = lines.all.filter { line in secrets.contains { line.contains($0) } }
            #expect(leaked.isEmpty, "secrets or signatures in the log: \(leaked)")
            print(
                "ingress metrics: 12 requests \(statuses); requests_total, events_accepted, auth_failures (invalid/replayed/stale/missing), quarantined, rate-limited, body bytes, durations and xadd count all exact; \(requestLines.count) JSON request lines, no secret in \(lines.all.count) log lines"
            )
        }
    }

    @Test func workerMetricsCountStoredDuplicatesDeadLettersAndStreamState() async throws {
        try await TestEnvironment.withDatabase { database, store in
            // Exact counts: a lane must not reclaim its sibling's batch because a loaded machine
            // made that commit take longer than the usual 2 s (a reclaim rightly counts again).
            let configuration = {
                var configuration = TestEnvironment.configuration(database: database)
                configuration.worker.claimMinIdleMilliseconds = 120_000
                return configuration
            }()
            let redis = TestEnvironment.redis()
            let run = TestEnvironment.unique("wops")
            let events = ResilienceTests.events(40, run: run)
            try await redis.createGroup(configuration.redis.stream, group: configuration.worker.group)
            try await ResilienceTests.append(events + Array(events[0..<10]), configuration, redis: redis)
            _ = try await redis.xadd(configuration.redis.stream, [("v", Array("1".utf8)), ("e", Array("not json".utf8))])

            let postgres = PostgresClient(
                configuration: TestEnvironment.postgresConfiguration(database: database), backgroundLogger: TestEnvironment.logger)
            let worker = EventWorker(
                redis: try configuration.redis.clientConfiguration(password: nil),
                store: EventStore(client: postgres, logger: TestEnvironment.logger),
                settings: configuration.worker, layout: configuration.redis.layout, deadLetterStream: configuration.redis.deadLetterStream,
                logger: TestEnvironment.logger)
            let (ports, continuation) = AsyncStream<Int>.makeStream()
            let operations = worker.operationsServer(
                host: "127.0.0.1", port: 0, quarantineStream: configuration.redis.quarantineStream,
                onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) })
            try await Harness.running(ServiceGroup(services: [postgres, operations, worker], logger: TestEnvironment.logger)) {
                var iterator = ports.makeAsyncIterator()
                let url = "http://127.0.0.1:\(try #require(await iterator.next()))"
                try await Harness.waitUntilDrained(redis, configuration)
                #expect(try await HTTP.request(url + "/healthz", method: "GET").status == 200)
                #expect(try await HTTP.request(url + "/readyz", method: "GET").status == 200)
                let scrape = try await Scrape.fetch(url + "/metrics")
                #expect(scrape["postwire_worker_events_stored_total"] == 40)
                #expect(scrape["postwire_worker_duplicates_total"] == 10)
                #expect(scrape["postwire_worker_dead_lettered_total"] == 1)
                #expect(scrape["postwire_worker_batch_size_sum"] == 51, "entries read, the undecodable one included")
                #expect(scrape["postwire_worker_receive_to_commit_seconds_count"] == 50, "events written")
                #expect(scrape["postwire_worker_commit_duration_seconds_count"] == scrape["postwire_worker_batch_size_count"])
                #expect(scrape["postwire_worker_batch_failures_total"] == 0)
                let streams = ["stream": configuration.redis.stream]
                let group = ["stream": configuration.redis.stream, "group": configuration.worker.group]
                #expect(scrape["postwire_stream_length", ["stream": configuration.redis.deadLetterStream]] == 1)
                #expect(scrape["postwire_stream_length", streams] == Double(try await redis.xlen(configuration.redis.stream)))
                #expect(scrape["postwire_stream_pending", group] == 0)
                #expect(scrape["postwire_stream_lag", group] == 0)
                #expect(scrape["postwire_stream_oldest_pending_seconds", group] == 0)

                let documented = try Self.documentedMetrics().filter {
                    !$0.hasPrefix("postwire_ingress_") && !$0.hasPrefix("postwire_dispatcher_")
                }
                #expect(
                    documented.subtracting(scrape.names).isEmpty, "documented but not exported: \(documented.subtracting(scrape.names))")
                print(
                    "worker metrics: 51 entries → stored 40, duplicates 10, dead-lettered 1; batch sizes sum 51, 50 receive-to-commit delays; stream gauges pending 0, lag 0"
                )
            }
            await redis.close()
        }
    }

    static func signedSendGrid(_ body: [UInt8], key: P256.Signing.PrivateKey) -> (headers: [String: String], body: [UInt8]) {
        let timestamp = String(Int(Date().timeIntervalSince1970))
        let signature = try! key.signature(for: Data(timestamp.utf8) + body).derRepresentation.base64EncodedString()
        return (
            [
                "content-type": "application/json", SendGridProvider.signatureHeader: signature,
                SendGridProvider.timestampHeader: timestamp,
            ], body
        )
    }

    /// The signature inside a Mailgun body.
    static func mailgunSignature(_ webhook: SignedWebhook) -> String? {
        let object = try? JSONSerialization.jsonObject(with: Data(webhook.body)) as? [String: Any]
        return (object?["signature"] as? [String: Any])?["signature"] as? String
    }
}
