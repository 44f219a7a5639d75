import Crypto
import DispatcherApp
import EmailEvents
import EventStore
import Foundation
import Operations
import PostgresNIO
import PostwireConfig
import ServiceLifecycle
import Testing

/// Outbound delivery as an operator runs it: the `postwire endpoints` and `deliveries` commands,
/// replay, endpoints from configuration, and the dispatcher's metrics.
@Suite struct DeliveryOperationsTests {
    func cli(_ arguments: [String], database: String) async throws -> (code: Int32, output: String, errors: String) {
        try await TestEnvironment.cli(arguments, database: database)
    }

    /// From `endpoints add` to a verified delivery, then rotate, replay, retry, disable, remove, as
    /// the README's section does it.
    @Test func theCommandsManageEndpointsAndDeliveries() async throws {
        try await TestEnvironment.withDatabase { database, store in
            let add = try await cli(
                [
                    "endpoints", "add", "crm", "http://127.0.0.1:9/placeholder", "--event-type", "bounced,complained", "--description",
                    "CRM",
                ],
                database: database)
            #expect(add.code == 0, "\(add.errors)")
            let secret = try #require(
                add.output.split(separator: "\n").first { $0.hasPrefix("signing secret: ") }.map { String($0.dropFirst(16)) })
            #expect(WebhookSecret.key(of: secret)?.bitCount == 256)
            let duplicate = try await cli(["endpoints", "add", "crm", "http://127.0.0.1:9/x"], database: database)
            #expect(duplicate.code != 0 && duplicate.errors.contains("exists already"), "\(duplicate.errors)")
            for bad in [
                ["endpoints", "add", "x", "ftp://nope"], ["endpoints", "add", "x", "http://h/", "--batch-size", "0"],
                ["endpoints", "add", "x", "http://h/", "--secret", "whsec_c2hvcnQ="], ["endpoints", "add", "bad name", "http://h/"],
            ] {
                let refused = try await cli(bad, database: database)
                #expect(refused.code != 0, "\(bad) was refused")
            }
            #expect(try await store.endpoints().map(\.name) == ["crm"])

            // The receiver, started with the secret the command printed.
            let receiver = try await WebhookReceiver.start(secrets: [secret])
            defer { Task { await receiver.stop() } }
            try await TestEnvironment.withClient(database: database) { client in
                try await client.query("UPDATE webhook_endpoints SET url = \(receiver.url)", logger: TestEnvironment.logger)
            }
            var configuration = TestEnvironment.configuration(database: database)
            DispatcherHarness.configure(&configuration)
            let past = Date().addingTimeInterval(-3600)
            _ = try await store.write([
                DeliveryTests.event("c1", .bounced, at: past), DeliveryTests.event("c2", .delivered, at: past),
                DeliveryTests.event("c3", .complained, at: past),
            ])
            try await DispatcherHarness.withDispatcher(configuration) {
                // The receiver's answer comes before the dispatcher records it: wait for the record.
                try await TestEnvironment.eventually("two deliveries to the CRM recorded as delivered") {
                    let recorded = try await store.deliveries(DeliverySelection(endpoint: "crm", status: "delivered"), limit: 10)
                    return receiver.acceptedEvents().count == 2 && recorded.count == 2
                }

                let list = try await cli(["endpoints", "list"], database: database)
                #expect(list.code == 0 && list.output.contains("crm") && list.output.contains("types bounced,complained"), "\(list.output)")
                let show = try await cli(["endpoints", "show", "crm"], database: database)
                #expect(show.output.contains("signing secrets: 1 in use") && !show.output.contains(secret), "\(show.output)")

                let deliveries = try await cli(["deliveries", "list", "--endpoint", "crm", "--status", "delivered"], database: database)
                #expect(deliveries.code == 0 && deliveries.output.split(separator: "\n").count == 3, "\(deliveries.output)")
                let id = try #require(try await store.deliveries(DeliverySelection(endpoint: "crm"), limit: 1).first?.id)
                let detail = try await cli(["deliveries", "show", "\(id)"], database: database)
                #expect(detail.output.contains("delivered") && detail.output.contains("204"), "\(detail.output)")

                // Replay the last two hours: the two matching events again, with the same ids.
                let replay = try await cli(["endpoints", "replay", "crm", "--since", "2h"], database: database)
                #expect(replay.output.contains("offered 2 events"), "\(replay.output)\(replay.errors)")
                try await TestEnvironment.eventually("the replay arrived") { receiver.acceptedEvents().values.allSatisfy { $0 == 2 } }
                #expect(receiver.acceptedEvents().count == 2)

                let rotate = try await cli(["endpoints", "rotate-secret", "crm", "--overlap", "0"], database: database)
                #expect(rotate.code == 0 && rotate.output.contains("the old secret no longer signs"), "\(rotate.output)")
                let badOverlap = try await cli(["endpoints", "rotate-secret", "crm", "--overlap", "soon"], database: database)
                #expect(badOverlap.code != 0)
                // Signed with a secret the receiver does not know: 401, retried, and shown as such.
                _ = try await store.write([DeliveryTests.event("c4", .bounced)])
                try await TestEnvironment.eventually("the receiver's refusal of the new signature recorded") {
                    let pending = try await store.deliveries(DeliverySelection(status: "pending"), limit: 10)
                    return receiver.requests().contains { $0.answered == 401 } && pending.contains { $0.lastStatus == 401 }
                }
            }
            let pending = try await cli(["deliveries", "list", "--status", "pending"], database: database)
            #expect(pending.output.contains("401"), "\(pending.output)")
            let retry = try await cli(["deliveries", "retry", "--endpoint", "crm", "--status", "pending"], database: database)
            #expect(retry.output.contains("1 delivery due now"), "\(retry.output)")
            let vague = try await cli(["deliveries", "retry"], database: database)
            #expect(vague.code != 0, "retry without a selection is refused")

            #expect(try await cli(["endpoints", "disable", "crm", "--reason", "maintenance"], database: database).code == 0)
            #expect(try await store.endpoint(named: "crm")?.disabledReason == "maintenance")
            #expect(try await cli(["endpoints", "enable", "crm"], database: database).code == 0)
            #expect(try await store.endpoint(named: "crm")?.enabled == true)
            #expect(try await cli(["endpoints", "remove", "crm"], database: database).code == 0)
            #expect(try await store.endpoints().isEmpty)
            #expect(try await store.deliveries(DeliverySelection(), limit: 10).isEmpty, "its deliveries went with it")
            let missing = try await cli(["endpoints", "remove", "crm"], database: database)
            #expect(missing.code != 0 && missing.errors.contains("no endpoint named crm"))
        }
    }

    /// Endpoints in the dispatcher's configuration (immutable deployments): written at start, kept
    /// in line with the configuration, refused to the CLI; the dispatcher's metrics count per endpoint.
    @Test func configuredEndpointsAndMetrics() async throws {
        try await TestEnvironment.withDatabase { database, store in
            let secret = WebhookSecret.generate()
            let receiver = try await WebhookReceiver.start(secrets: [secret])
            defer { Task { await receiver.stop() } }
            var configuration = TestEnvironment.configuration(database: database)
            DispatcherHarness.configure(&configuration)
            var endpoint = EndpointSettings(name: "lake", url: receiver.url)
            endpoint.batchSize = 5
            endpoint.providers = ["SendGrid"]
            configuration.dispatcher.endpoints = [endpoint]
            configuration.dispatcher.metricsPort = 0
            let environment = [endpoint.secretVariable: secret, "POSTWIRE_POSTGRES_PASSWORD": TestEnvironment.postgresPassword]
            #expect(endpoint.secretVariable == "POSTWIRE_ENDPOINT_SECRET_LAKE")

            // A configured endpoint without its secret is a configuration error, said at start.
            #expect(throws: ConfigurationError.self) {
                _ = try DispatcherAssembly.buildServiceGroup(
                    configuration: configuration, secrets: Secrets(environment: [:]), logger: TestEnvironment.logger)
            }

            let (ports, continuation) = AsyncStream<Int>.makeStream()
            let metrics = MetricsRegistry()
            let group = try DispatcherAssembly.buildServiceGroup(
                configuration: configuration, secrets: Secrets(environment: environment), logger: TestEnvironment.logger, metrics: metrics,
                onOperationsRunning: { continuation.yield($0.localAddress?.port ?? 0) })
            try await Harness.running(group) {
                var iterator = ports.makeAsyncIterator()
                let port = try #require(await iterator.next())
                try await TestEnvironment.eventually("the configured endpoint exists") { try await store.endpoint(named: "lake") != nil }
                let stored = try #require(try await store.endpoint(named: "lake"))
                #expect(stored.managedBy == "config" && stored.batchSize == 5 && stored.filter.providers == ["sendgrid"])
                do {
                    try await store.removeEndpoint("lake")
                    Issue.record("the CLI removed a configured endpoint")
                } catch {
                    #expect("\(error)".contains("configuration"))
                }
                _ = try await store.write(
                    (0..<12).map { DeliveryTests.event("m\($0)", .delivered) } + [DeliveryTests.event("mg", .delivered, provider: .mailgun)]
                )
                try await TestEnvironment.eventually("twelve SendGrid events arrived") { receiver.acceptedEvents().count == 12 }
                let ready = try await HTTP.request("http://127.0.0.1:\(port)/readyz", method: "GET")
                #expect(ready.status == 200)
                let scrape = try await Scrape.fetch("http://127.0.0.1:\(port)/metrics")
                #expect(scrape["postwire_dispatcher_delivered_events_total", ["endpoint": "lake"]] == 12)
                #expect(scrape["postwire_dispatcher_attempts_total", ["endpoint": "lake"]] == Double(receiver.requests().count))
                #expect(scrape["postwire_dispatcher_request_duration_seconds_count", ["endpoint": "lake"]] >= 3)
                // The receiver has the events a moment before the dispatcher has recorded them
                // delivered; the gauge, read from the outbox at each scrape, is 0 once it has.
                try await TestEnvironment.eventually("the pending gauge at 0") {
                    try await Scrape.fetch("http://127.0.0.1:\(port)/metrics")["postwire_dispatcher_pending", ["endpoint": "lake"]] == 0
                }
                #expect(scrape.names.contains("postwire_dispatcher_oldest_due_seconds"))
            }
            // Dropped from the configuration: disabled, its history kept.
            configuration.dispatcher.endpoints = []
            configuration.dispatcher.metricsPort = -1
            try await DispatcherHarness.withDispatcher(configuration) {
                try await TestEnvironment.eventually("disabled") { try await store.endpoint(named: "lake")?.enabled == false }
            }
            #expect(try await store.deliveries(DeliverySelection(endpoint: "lake"), limit: 100).count == 12)
            // Configured again: enabled again. Its state the CLI may change.
            configuration.dispatcher.endpoints = [endpoint]
            try await DispatcherHarness.withDispatcher(configuration, environment: environment) {
                try await TestEnvironment.eventually("enabled again") { try await store.endpoint(named: "lake")?.enabled == true }
            }
            // Disabled by an operator, it stays disabled when the dispatcher starts again.
            try await store.setEndpoint("lake", enabled: false, reason: "maintenance")
            endpoint.batchSize = 7  // so the test sees the configuration written
            configuration.dispatcher.endpoints = [endpoint]
            try await DispatcherHarness.withDispatcher(configuration, environment: environment) {
                try await TestEnvironment.eventually("configured endpoints written") {
                    try await store.endpoint(named: "lake")?.batchSize == 7
                }
            }
            #expect(try await store.endpoint(named: "lake")?.disabledReason == "maintenance")
            #expect(try await store.endpoint(named: "lake")?.enabled == false)
            try await store.setEndpoint("lake", enabled: true)
            #expect(try await store.endpoint(named: "lake")?.enabled == true)
        }
    }
}
