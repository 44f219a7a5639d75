import EmailEvents
import EventStore
import Foundation
import NIOConcurrencyHelpers
import Operations
import PostgresNIO
import PostwireConfig
import RedisStreams
import Testing
import WorkerApp

/// Issue 5: a generated month of events through the real worker into the real schema; every
/// rollup, rate, suppression, engagement count and timeline checked against values computed in
/// the test; replaying it all changes no analytic table; the analyst role reads and cannot write.
@Suite(.serialized) struct AnalyticsTests {
    static func configuration(_ database: String) -> PostwireConfiguration {
        var configuration = TestEnvironment.configuration(database: database)
        configuration.worker.batchSize = 300
        configuration.analytics.alertMinimumVolume = 150
        configuration.analytics.alertWindowHours = 7 * 24  // a week, for this month's modest volume
        MonthOfEvents.configure(&configuration.analytics)
        return configuration
    }

    @Test func aMonthOfEventsAddsUpAndReplayingItChangesNothing() async throws {
        try await TestEnvironment.withDatabase { database, store in
            let configuration = Self.configuration(database)
            let month = MonthOfEvents(messages: 4000, seed: 7)
            let deliveries = month.deliveries(seed: 11)
            let distinct = month.events.count
            let redis = TestEnvironment.redis()
            try await redis.createGroup(configuration.redis.stream, group: configuration.worker.group)
            let started = ContinuousClock.now
            try await ResilienceTests.append(deliveries, configuration, redis: redis)
            let workerStats = try await Harness.withWorker(configuration, consumer: "analytics") { worker in
                try await Harness.waitUntilDrained(redis, configuration, timeout: .seconds(180))
                return worker
            }.stats
            let workerMetrics = workerStats.metrics
            // A batch outliving claimMinIdle on a loaded machine is taken over by the other lane
            // and received twice (a full run saw 2 of 300): the statistics count what arrived.
            let redelivered = Int64(workerStats.snapshot.reclaimed)
            let firstPass = ContinuousClock.now - started
            #expect(try await store.eventCount() == distinct)

            // Hourly counts, with the campaign the rule chose.
            var actual: [MonthOfEvents.CountKey: Int64] = [:]
            for row in try await store.hourlyCounts() {
                actual[
                    .init(
                        hour: row.hour, provider: row.provider, source: row.source, type: row.eventType, senderDomain: row.senderDomain,
                        recipientDomain: row.recipientDomain, campaign: row.campaign), default: 0] += row.count
            }
            #expect(actual == month.hourlyCounts)
            // The machines' share of them, by the generator's truth, not by the rules under test.
            var machine: [MonthOfEvents.CountKey: Int64] = [:]
            for try await (hour, provider, source, type, sender, recipient, campaign, count) in try await store.client.query(
                """
                SELECT hour, provider, source, event_type, sender_domain, recipient_domain, campaign, machine
                FROM event_counts_hourly WHERE machine <> 0
                """, logger: TestEnvironment.logger
            ).decode((Date, String, String, String, String, String, String, Int64).self) {
                machine[
                    .init(
                        hour: hour, provider: provider, source: source, type: type, senderDomain: sender, recipientDomain: recipient,
                        campaign: campaign)] = count
            }
            let expectedMachine = month.machineHourlyCounts
            #expect(machine == expectedMachine, "\(machine.count) machine rows, expected \(expectedMachine.count)")
            #expect(expectedMachine.keys.contains { $0.type == "opened" } && expectedMachine.keys.contains { $0.type == "clicked" })
            try await Self.checkEngagementVerdicts(store, month)
            try await Self.checkMailboxProviders(store, month)
            try await DashboardChecks.check(store, month, database: database)

            // Unique opens and clicks.
            var uniques: [MonthOfEvents.CountKey: Int64] = [:]
            let uniqueRows = try await store.client.query(
                """
                SELECT hour, provider, source, kind, sender_domain, recipient_domain, campaign, count FROM unique_counts_hourly
                """, logger: TestEnvironment.logger)
            // A row may hold 0 after its message's first open moved to an earlier hour (docs/ANALYTICS.md).
            for try await (hour, provider, source, kind, sender, recipient, campaign, count) in uniqueRows.decode(
                (Date, String, String, String, String, String, String, Int64).self) where count != 0
            {
                uniques[
                    .init(
                        hour: hour, provider: provider, source: source, type: kind, senderDomain: sender, recipientDomain: recipient,
                        campaign: campaign)] = count
            }
            let expectedUniques = month.uniqueCounts
            #expect(
                uniques == expectedUniques,
                "missing \(Array(expectedUniques.filter { uniques[$0.key] != $0.value }.prefix(3))), unexpected \(Array(uniques.filter { expectedUniques[$0.key] != $0.value }.prefix(3)))"
            )

            // Daily counts and rates, recomputed from the expected hourly and unique counts.
            try await Self.checkDailyRates(store, month)

            // Timelines.
            let timelines = try await Self.timelines(store)
            #expect(timelines.count == month.messages.count)
            let expectedTimelines = month.timelines
            let wrongTimelines = expectedTimelines.filter { timelines[$0.key] != $0.value }
            #expect(
                wrongTimelines.isEmpty,
                "\(wrongTimelines.count) timelines differ, e.g. \(wrongTimelines.first.map { ($0, timelines[$0.key]) } as Any)")

            // Engagement.
            let engagement = try await Self.engagement(store)
            let expectedEngagement = month.engagement
            #expect(engagement.count == expectedEngagement.count)
            let wrongEngagement = expectedEngagement.filter { engagement[$0.key] != $0.value }
            #expect(
                wrongEngagement.isEmpty,
                "\(wrongEngagement.count) addresses differ, e.g. \(wrongEngagement.first.map { ($0, engagement[$0.key]) } as Any)")

            // Suppressions.
            let suppressions = try await Self.suppressions(store)
            let expectedSuppressions = month.suppressions(
                softLimit: configuration.analytics.softBounceLimit, softDays: configuration.analytics.softBounceWindowDays)
            #expect(suppressions == expectedSuppressions)
            let reasons = Dictionary(grouping: expectedSuppressions.values, by: \.reason).mapValues(\.count)
            #expect(Set(reasons.keys) == ["complaint", "hard_bounce", "soft_bounces", "unsubscribe"], "every rule exercised: \(reasons)")
            #expect(expectedSuppressions.values.contains { $0.lifted != nil }, "a re-subscribe lifted an unsubscribe")

            // Processing statistics.
            let processing = try await Self.processingTotals(store)
            let received = Int64(deliveries.count) + redelivered
            #expect(processing == [received, Int64(distinct), received - Int64(distinct), Int64(distinct)])

            // The processing_stats view: delay percentiles from the histogram, in order, for every hour.
            var percentileRows = 0
            for try await (p50, p95, p99) in try await store.client.query(
                "SELECT delay_p50_ms, delay_p95_ms, delay_p99_ms FROM processing_stats", logger: TestEnvironment.logger
            ).decode((Int64?, Int64?, Int64?).self) {
                percentileRows += 1
                #expect(p50 != nil && p50! <= p95! && p95! <= p99!, "percentiles \(String(describing: (p50, p95, p99)))")
            }
            #expect(percentileRows > 0)

            // Alerts: the complaining and the bouncing domain, never the clean one; each row consistent.
            let alerts = try await Self.alerts(store)
            #expect(alerts.contains { $0.kind == "complaint_rate" && $0.domain == "spammy.test" })
            #expect(alerts.contains { $0.kind == "bounce_rate" && $0.domain == "mail.bank.test" })
            #expect(!alerts.contains { $0.domain == "news.shop.test" })
            #expect(
                alerts.allSatisfy {
                    $0.denominator >= 150 && abs($0.rate - Double($0.numerator) / Double($0.denominator)) < 1e-12 && $0.rate > $0.threshold
                })
            let scrape = Scrape(String(decoding: workerMetrics.exposition(), as: UTF8.self))
            #expect(
                Int(
                    scrape["postwire_worker_alerts_total", ["kind": "complaint_rate"]]
                        + scrape["postwire_worker_alerts_total", ["kind": "bounce_rate"]])
                    == alerts.count, "one metric increment per alert row")

            // Replay everything: no analytic table changes.
            let before = try await Self.snapshot(store)
            try await ResilienceTests.append(deliveries, configuration, redis: redis)
            let replayRedelivered = try await Harness.withWorker(configuration, consumer: "replay") { worker in
                try await Harness.waitUntilDrained(redis, configuration, timeout: .seconds(180))
                return Int64(worker.stats.snapshot.reclaimed)
            }
            let after = try await Self.snapshot(store)
            for (table, rows) in before { #expect(after[table] == rows, "\(table) changed on replay") }
            let replayed = try await Self.processingTotals(store)
            let receivedTwice = Int64(2 * deliveries.count) + redelivered + replayRedelivered
            #expect(replayed == [receivedTwice, Int64(distinct), receivedTwice - Int64(distinct), Int64(distinct)])
            print(
                "analytics month: \(month.messages.count) messages, \(distinct) distinct events, \(deliveries.count) deliveries (duplicates included), first pass \(firstPass) (\(redelivered) taken over by the other lane); hourly rows \(actual.count), unique rows \(uniques.count), timelines \(timelines.count), engagement rows \(engagement.count), suppressions \(reasons), alerts \(alerts.count); replay of \(deliveries.count) changed none of \(before.count) tables"
            )
            await redis.close()
        }
    }

    @Test func analystRoleReadsTheViewsAndCannotWrite() async throws {
        try await TestEnvironment.withDatabase { database, store in
            try await store.setAnalystPassword("analyst-secret")
            var analystConfiguration = TestEnvironment.postgresConfiguration(database: database)
            analystConfiguration.username = "postwire_analyst"
            analystConfiguration.password = "analyst-secret"
            let analyst = PostgresClient(configuration: analystConfiguration, backgroundLogger: TestEnvironment.logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await analyst.run() }
                defer { group.cancelAll() }
                for view in [
                    "daily_counts", "daily_rates", "recipient_engagement_scores", "active_suppressions", "processing_stats",
                    "event_counts_hourly",
                    "unique_counts_hourly", "domain_counts_hourly", "message_status", "recipient_engagement", "suppressions", "alerts",
                    "email_events",
                ] {
                    try await analyst.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(view)"), logger: TestEnvironment.logger)
                }
                var refused: [String] = []
                for statement in [
                    "INSERT INTO suppressions (address, reason, suppressed_at, provider, source, event_key) VALUES ('a@b', 'complaint', now(), 'x', 'y', 'z')",
                    "UPDATE event_counts_hourly SET count = 0", "DELETE FROM email_events", "TRUNCATE alerts",
                    "CREATE TABLE mine (x int)", "DROP VIEW daily_rates", "INSERT INTO event_keys VALUES ('p', 'k', now())",
                    "SELECT * FROM postwire_migrations",
                ] {
                    do {
                        try await analyst.query(PostgresQuery(unsafeSQL: statement), logger: TestEnvironment.logger)
                    } catch let error as PSQLError {
                        if error.serverInfo?[.sqlState] == "42501" { refused.append(statement) }  // insufficient_privilege
                    }
                }
                #expect(refused.count == 8, "refused only \(refused)")
            }
        }
    }

    @Test func upgradingFromVersionTwoMovesTheEventsIntoPartitions() async throws {
        let name = "pwtest_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
        try await TestEnvironment.withClient(database: "postgres") { admin in
            try await admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: TestEnvironment.logger)
        }
        defer { Task { try? await TestEnvironment.dropDatabase(name) } }
        try await TestEnvironment.withClient(database: name) { client in
            let store = EventStore(client: client, logger: TestEnvironment.logger)
            try await store.migrate(through: 2)
            try await client.query(
                """
                INSERT INTO email_events (provider, event_key, source, event_type, esp_event, occurred_at, received_at, raw)
                SELECT 'sendgrid', 'old-' || n, 'default', 'delivered', 'delivered',
                       timestamptz '2026-08-15 00:00Z' + n * interval '1 day', now(), '{}'
                FROM generate_series(0, 59) n
                """, logger: TestEnvironment.logger)
            try await store.migrate()
            #expect(try await store.schemaVersion() == EventStore.latestVersion)
            #expect(try await store.eventCount() == 60)
            var partitions: [String: Int64] = [:]
            let rows = try await client.query(
                "SELECT tableoid::regclass::text, count(*)::int8 FROM email_events GROUP BY 1", logger: TestEnvironment.logger)
            for try await (partition, count) in rows.decode((String, Int64).self) { partitions[partition] = count }
            #expect(partitions == ["email_events_y2026m08": 17, "email_events_y2026m09": 30, "email_events_y2026m10": 13])
            // The keys came along: the same events again are duplicates.
            let again = (0..<60).map { n in
                EmailEvent(
                    provider: .sendgrid, source: "default", type: .delivered, espEvent: "delivered", eventKey: "old-\(n)",
                    occurredAt: Date(timeIntervalSince1970: 1_786_752_000 + Double(n) * 86400), receivedAt: Date(), raw: Array("{}".utf8))
            }
            let result = try await store.write(again)
            #expect(result.stored == 0 && result.duplicates == 60)
        }
    }

    @Test func retentionDropsWholeExpiredMonthsAndTheirKeys() async throws {
        try await TestEnvironment.withDatabase { _, store in
            try await store.ensurePartitions(from: Date(timeIntervalSince1970: 1_780_272_000), months: 3)  // 2026-06 … 2026-08
            let events = (0..<90).map { n in
                EmailEvent(
                    provider: .mailgun, source: "default", type: .opened, espEvent: "opened", eventKey: "ret-\(n)",
                    occurredAt: Date(timeIntervalSince1970: 1_780_272_000 + Double(n) * 86400), receivedAt: Date(), raw: Array("{}".utf8))
            }
            _ = try await store.write(events)
            let cutoff = Date(timeIntervalSince1970: 1_785_542_400)  // 2026-08-01: June and July have expired
            let preview = try await store.applyRetention(cutoff: cutoff, dryRun: true)
            #expect(preview.droppedPartitions == ["email_events_y2026m06", "email_events_y2026m07"])
            #expect(try await store.eventCount() == 90, "a dry run removes nothing")
            let outcome = try await store.applyRetention(cutoff: cutoff, dryRun: false)
            #expect(outcome.droppedPartitions == preview.droppedPartitions)
            #expect(outcome.deletedKeys == 61)
            #expect(try await store.eventCount() == 29)
            #expect(try await store.hourlyCounts().map(\.count).reduce(0, +) == 90, "rollups keep their history")
        }
    }

    // MARK: reading the tables

    static func checkDailyRates(_ store: EventStore, _ month: MonthOfEvents) async throws {
        struct DayKey: Hashable { var day: String, provider: String, source: String, sender: String, recipient: String, campaign: String }
        var expected: [DayKey: [String: Int64]] = [:]
        for (key, count) in month.hourlyCounts {
            let day = DayKey(
                day: MonthOfEvents.day(key.hour), provider: key.provider, source: key.source, sender: key.senderDomain,
                recipient: key.recipientDomain, campaign: key.campaign)
            expected[day, default: [:]][key.type, default: 0] += count
        }
        for (key, count) in month.uniqueCounts {
            let day = DayKey(
                day: MonthOfEvents.day(key.hour), provider: key.provider, source: key.source, sender: key.senderDomain,
                recipient: key.recipientDomain, campaign: key.campaign)
            expected[day, default: [:]]["unique_" + key.type, default: 0] += count
        }
        let rows = try await store.client.query(
            """
            SELECT day::text, provider, source, sender_domain, recipient_domain, campaign, sent, delivered, bounced, complained,
                   unique_opens, unique_clicks, coalesce(delivery_rate::float8, -1), coalesce(bounce_rate::float8, -1),
                   coalesce(complaint_rate::float8, -1), coalesce(unique_open_rate::float8, -1), coalesce(unique_click_rate::float8, -1)
            FROM daily_rates
            """, logger: TestEnvironment.logger)
        var seen = 0
        var mismatches: [String] = []
        for try await row in rows.decode(
            (
                String, String, String, String, String, String, Int64, Int64, Int64, Int64, Int64, Int64, Double, Double, Double, Double,
                Double
            )
            .self)
        {
            seen += 1
            let key = DayKey(day: row.0, provider: row.1, source: row.2, sender: row.3, recipient: row.4, campaign: row.5)
            let counts = expected[key] ?? [:]
            let delivered = counts["delivered"] ?? 0
            let bounced = counts["bounced"] ?? 0
            let sent = delivered + bounced
            func rate(_ n: Int64, _ d: Int64) -> Double { d > 0 ? Double(n) / Double(d) : -1 }
            let want: [Double] = [
                Double(sent), Double(delivered), Double(bounced), Double(counts["complained"] ?? 0), Double(counts["unique_open"] ?? 0),
                Double(counts["unique_click"] ?? 0), rate(delivered, sent), rate(bounced, sent), rate(counts["complained"] ?? 0, delivered),
                rate(counts["unique_open"] ?? 0, delivered), rate(counts["unique_click"] ?? 0, delivered),
            ]
            let got: [Double] = [
                Double(row.6), Double(row.7), Double(row.8), Double(row.9), Double(row.10), Double(row.11), row.12, row.13, row.14, row.15,
                row.16,
            ]
            if zip(want, got).contains(where: { abs($0 - $1) > 1e-9 }) { mismatches.append("\(key): want \(want), got \(got)") }
        }
        #expect(seen == expected.count)
        #expect(mismatches.isEmpty, "\(mismatches.count) daily rows differ, e.g. \(mismatches.first ?? "")")
    }

    /// Every open's and click's verdict as the generator made it, each rule seen deciding; the
    /// daily view's human and machine columns and `postwire stats`' (by provider) equal to the
    /// truth's sums.
    static func checkEngagementVerdicts(_ store: EventStore, _ month: MonthOfEvents) async throws {
        var wrong: [String] = []
        var reasons: [String: Int] = [:]
        for try await (key, machine, reason) in try await store.client.query(
            "SELECT event_key, machine, engagement_reason FROM email_events WHERE event_type IN ('opened', 'clicked')",
            logger: TestEnvironment.logger
        ).decode((String, Bool?, String?).self) {
            reasons[reason ?? "(none)", default: 0] += 1
            if machine != month.machineKeys.contains(key) { wrong.append("\(key): \(String(describing: machine)) \(reason ?? "")") }
        }
        #expect(wrong.isEmpty, "\(wrong.count) verdicts differ from the truth, e.g. \(wrong.prefix(3))")
        #expect(
            Set(reasons.keys) == [
                "no_machine_signal", "esp:is_machine_open", "user_agent:google_image_proxy", "user_agent:apple_mail_privacy_protection",
                "network:test_proxy", "user_agent:http_library", "network:test_scanner", "timing:soon_after_delivery", "timing:click_burst",
            ], "every rule decided some: \(reasons)")

        struct DayKey: Hashable { var day: String, provider: String, source: String, sender: String, recipient: String, campaign: String }
        func day(_ key: MonthOfEvents.CountKey) -> DayKey {
            DayKey(
                day: MonthOfEvents.day(key.hour), provider: key.provider, source: key.source, sender: key.senderDomain,
                recipient: key.recipientDomain, campaign: key.campaign)
        }
        var expected: [DayKey: [String: Int64]] = [:]
        var byProvider: [String: [String: Int64]] = [:]
        func add(_ key: MonthOfEvents.CountKey, _ name: String, _ count: Int64) {
            expected[day(key), default: [:]][name, default: 0] += count
            byProvider[key.provider, default: [:]][name, default: 0] += count
        }
        for (key, count) in month.hourlyCounts {
            if key.type == "delivered" { add(key, "delivered", count) }
            if key.type == "opened" { add(key, "human_opens", count) }
            if key.type == "clicked" { add(key, "human_clicks", count) }
        }
        for (key, count) in month.machineHourlyCounts {
            let kind = key.type == "opened" ? "opens" : "clicks"
            add(key, "human_" + kind, -count)
            add(key, "machine_" + kind, count)
        }
        for (key, count) in month.uniqueCounts where key.type.hasPrefix("human_") { add(key, "unique_" + key.type + "s", count) }
        let names = ["human_opens", "machine_opens", "unique_human_opens", "human_clicks", "machine_clicks", "unique_human_clicks"]
        let rows = try await store.client.query(
            """
            SELECT day::text, provider, source, sender_domain, recipient_domain, campaign,
                   ARRAY[human_opens, machine_opens, unique_human_opens, human_clicks, machine_clicks, unique_human_clicks],
                   ARRAY[coalesce(unique_human_open_rate::float8, -1), coalesce(unique_human_click_rate::float8, -1)]
            FROM daily_rates
            """, logger: TestEnvironment.logger)
        var mismatches: [String] = []
        for try await (d, provider, source, sender, recipient, campaign, counts, rates) in rows.decode(
            (String, String, String, String, String, String, [Int64], [Double]).self)
        {
            let want =
                expected[DayKey(day: d, provider: provider, source: source, sender: sender, recipient: recipient, campaign: campaign)]
                ?? [:]
            let delivered = want["delivered"] ?? 0
            func rate(_ n: Int64) -> Double { delivered > 0 ? Double(n) / Double(delivered) : -1 }
            let wantCounts = names.map { want[$0] ?? 0 }
            let wantRates = [rate(want["unique_human_opens"] ?? 0), rate(want["unique_human_clicks"] ?? 0)]
            if counts != wantCounts || zip(rates, wantRates).contains(where: { abs($0 - $1) > 1e-9 }) {
                mismatches.append(
                    "\(d) \(provider) \(sender) \(recipient) \(campaign): want \(wantCounts) \(wantRates), got \(counts) \(rates)")
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) daily rows differ, e.g. \(mismatches.first ?? "")")

        let stats = try await store.stats(
            since: MonthOfEvents.start, until: MonthOfEvents.start.addingTimeInterval(40 * 86400), by: ["provider"])
        #expect(stats.count == byProvider.count)
        for row in stats {
            let want = byProvider[row.group[0]] ?? [:]
            let got = [row.humanOpens, row.machineOpens, row.uniqueHumanOpens, row.humanClicks, row.machineClicks, row.uniqueHumanClicks]
            #expect(got == names.map { want[$0] ?? 0 }, "stats for \(row.group[0])")
            #expect(row.opens == row.humanOpens + row.machineOpens && row.clicks == row.humanClicks + row.machineClicks)
            #expect(row.uniqueHumanOpens < row.uniqueOpens, "machines' opens left out of \(row.group[0])'s unique opens")
        }
        print("engagement verdicts: \(reasons.sorted { $0.key < $1.key }); by provider \(byProvider)")
    }

    /// `postwire stats --by mailbox_provider` (the configured rules, installed by the worker)
    /// equals the truth grouped by each recipient domain's provider.
    static func checkMailboxProviders(_ store: EventStore, _ month: MonthOfEvents) async throws {
        var want: [String: [Int64]] = [:]
        for (key, count) in month.hourlyCounts {
            let provider = try #require(MonthOfEvents.mailboxProviders[key.recipientDomain])
            var row = want[provider] ?? [0, 0, 0]
            switch key.type {
            case "delivered": row[0] += count
            case "bounced": row[1] += count
            case "complained": row[2] += count
            default: break
            }
            want[provider] = row
        }
        let stats = try await store.stats(
            since: MonthOfEvents.start, until: MonthOfEvents.start.addingTimeInterval(40 * 86400), by: ["mailbox_provider"])
        var got: [String: [Int64]] = [:]
        for row in stats { got[row.group[0]] = [row.delivered, row.bounced, row.complained] }
        #expect(got == want)
        #expect(Set(got.keys) == ["gmail", "yahoo", "other"])
    }

    static func timelines(_ store: EventStore) async throws -> [String: MonthOfEvents.Timeline] {
        var result: [String: MonthOfEvents.Timeline] = [:]
        let rows = try await store.client.query(
            """
            SELECT message_id, delivered_at, bounced_at, bounce_class, first_opened_at, opens, first_clicked_at, clicks,
                   complained_at, unsubscribed_at, deferrals, queued_at, latest_state, events
            FROM message_status
            """, logger: TestEnvironment.logger)
        for try await r in rows.decode(
            (String, Date?, Date?, String?, Date?, Int32, Date?, Int32, Date?, Date?, Int32, Date?, String?, Int32).self)
        {
            result[r.0] = MonthOfEvents.Timeline(
                delivered: r.1, bounced: r.2, bounceClass: r.3, firstOpened: r.4, opens: Int(r.5), firstClicked: r.6, clicks: Int(r.7),
                complained: r.8, unsubscribed: r.9, deferrals: Int(r.10), queued: r.11, latestState: r.12, events: Int(r.13))
        }
        let human = try await store.client.query(
            "SELECT message_id, first_human_opened_at, human_opens, first_human_clicked_at, human_clicks FROM message_status",
            logger: TestEnvironment.logger)
        for try await (id, opened, opens, clicked, clicks) in human.decode((String, Date?, Int32, Date?, Int32).self) {
            result[id]?.firstHumanOpened = opened
            result[id]?.humanOpens = Int(opens)
            result[id]?.firstHumanClicked = clicked
            result[id]?.humanClicks = Int(clicks)
        }
        return result
    }

    static func engagement(_ store: EventStore) async throws -> [String: MonthOfEvents.Engagement] {
        var result: [String: MonthOfEvents.Engagement] = [:]
        let rows = try await store.client.query(
            """
            SELECT address, events, delivered, opens, machine_opens, clicks, machine_clicks, first_seen, last_seen, last_opened_at,
                   last_clicked_at
            FROM recipient_engagement
            """, logger: TestEnvironment.logger)
        for try await r in rows.decode((String, Int64, Int64, Int64, Int64, Int64, Int64, Date, Date, Date?, Date?).self) {
            result[r.0] = MonthOfEvents.Engagement(
                events: Int(r.1), delivered: Int(r.2), opens: Int(r.3), machineOpens: Int(r.4), clicks: Int(r.5), machineClicks: Int(r.6),
                firstSeen: r.7, lastSeen: r.8, lastOpened: r.9, lastClicked: r.10)
        }
        return result
    }

    static func suppressions(_ store: EventStore) async throws -> [String: MonthOfEvents.Suppressed] {
        var result: [String: MonthOfEvents.Suppressed] = [:]
        try await store.suppressions(includeLifted: true) { row in
            result[row.address] = MonthOfEvents.Suppressed(reason: row.reason, at: row.suppressedAt, lifted: row.liftedAt)
        }
        return result
    }

    /// received, stored, duplicates, and the events in the delay histogram.
    static func processingTotals(_ store: EventStore) async throws -> [Int64] {
        var totals: [Int64] = []
        let rows = try await store.client.query(
            """
            SELECT coalesce(sum(received), 0)::int8, coalesce(sum(stored), 0)::int8, coalesce(sum(duplicates), 0)::int8,
                   (SELECT coalesce(sum(count), 0)::int8 FROM processing_delay_hourly)
            FROM processing_stats_hourly
            """, logger: TestEnvironment.logger)
        for try await (received, stored, duplicates, delays) in rows.decode((Int64, Int64, Int64, Int64).self) {
            totals = [received, stored, duplicates, delays]
        }
        return totals
    }

    struct AlertRow { var kind: String, domain: String, numerator: Int64, denominator: Int64, rate: Double, threshold: Double }

    static func alerts(_ store: EventStore) async throws -> [AlertRow] {
        var result: [AlertRow] = []
        let rows = try await store.client.query(
            "SELECT kind, sender_domain, numerator, denominator, rate, threshold FROM alerts", logger: TestEnvironment.logger)
        for try await r in rows.decode((String, String, Int64, Int64, Double, Double).self) {
            result.append(AlertRow(kind: r.0, domain: r.1, numerator: r.2, denominator: r.3, rate: r.4, threshold: r.5))
        }
        return result
    }

    /// Every row of every analytic table, as text, in a fixed order.
    static func snapshot(_ store: EventStore) async throws -> [String: [String]] {
        var result: [String: [String]] = [:]
        for table in [
            "email_events", "event_keys", "event_counts_hourly", "domain_counts_hourly", "unique_counts_hourly", "message_status",
            "recipient_engagement",
            "suppressions",
            "alerts",
        ] {
            var rows: [String] = []
            let query = PostgresQuery(unsafeSQL: "SELECT to_jsonb(t)::text FROM \(table) t ORDER BY 1")
            for try await row in try await store.client.query(query, logger: TestEnvironment.logger).decode(String.self) {
                rows.append(row)
            }
            result[table] = rows
        }
        return result
    }
}
