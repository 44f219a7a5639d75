import EmailEvents
import EventStore
import Foundation
import Logging
import PostgresNIO

// The batch transaction's cost: milliseconds per 1,000 events, first with an empty
// database, then with `--rows` (10 million) events stored with their rollups, timelines,
// engagement and suppressions. The cost should stay flat: every statement reaches only the batch's
// rows through keys and indexes.
//
//   swift run -c release BatchWrite [--rows 10000000] [--batches 20] [--database postwire_bench] [--reuse]
//
// Connection: POSTWIRE_POSTGRES_HOST/PORT/USER/PASSWORD (defaults 127.0.0.1:5432, postwire).
// The database is dropped and created anew.

let arguments = CommandLine.arguments
func option(_ name: String, _ fallback: String) -> String {
    arguments.firstIndex(of: name).flatMap { arguments.indices.contains($0 + 1) ? arguments[$0 + 1] : nil } ?? fallback
}
let rows = Int(option("--rows", "10000000"))!
let batches = Int(option("--batches", "20"))!
let database = option("--database", "postwire_bench")
// `--reuse`: keep the database and its stored events from an earlier run (only derive and measure).
let reuse = arguments.contains("--reuse")
let environment = ProcessInfo.processInfo.environment
let logger = {
    var logger = Logger(label: "bench")
    logger.logLevel = .error
    return logger
}()

func configuration(_ database: String) -> PostgresClient.Configuration {
    var configuration = PostgresClient.Configuration(
        host: environment["POSTWIRE_POSTGRES_HOST"] ?? "127.0.0.1", port: Int(environment["POSTWIRE_POSTGRES_PORT"] ?? "5432")!,
        username: environment["POSTWIRE_POSTGRES_USER"] ?? "postwire", password: environment["POSTWIRE_POSTGRES_PASSWORD"],
        database: database, tls: .disable)
    configuration.options.connectTimeout = .seconds(5)
    return configuration
}

func withClient<T: Sendable>(_ database: String, _ body: @Sendable (PostgresClient) async throws -> T) async throws -> T {
    let client = PostgresClient(configuration: configuration(database), backgroundLogger: logger)
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            await client.run()
            return nil
        }
        defer { group.cancelAll() }
        return try await body(client)
    }
}

let addresses = 1_000_000
let domains = ["gmail.test", "yahoo.test", "outlook.test", "corp.test"]
let types: [(EventType, BounceClass?)] = [
    (.delivered, nil), (.delivered, nil), (.delivered, nil), (.opened, nil), (.opened, nil), (.clicked, nil), (.deferred, nil),
    (.bounced, .soft), (.bounced, .hard), (.complained, nil), (.unsubscribed, nil), (.queued, nil),
]

/// 1,000 events of a realistic mix: recipients from the same million addresses the fill uses, so
/// engagement, suppression and soft-bounce lookups meet existing rows.
func batch(_ number: Int) -> [EmailEvent] {
    (0..<1000).map { i in
        let n = number * 1000 + i
        let (type, bounceClass) = types[n % types.count]
        let recipient = Int(UInt64(bitPattern: Int64(n) &* 2_654_435_761) % UInt64(addresses))
        var event = EmailEvent(
            provider: .sendgrid, source: "default", type: type, espEvent: type.rawValue, eventKey: "bench-\(number)-\(i)",
            occurredAt: Date().addingTimeInterval(-Double(n % 3600)), receivedAt: Date(), raw: Array(#"{"bench":true}"#.utf8))
        event.bounceClass = bounceClass
        event.messageId = "bench-msg-\(n / 3)"
        event.setRecipient("user\(recipient)@\(domains[recipient % domains.count])")
        event.setSender("news@shop\(n % 5).test")
        event.campaign = "campaign-\(n % 20)"
        return event
    }
}

func measure(_ store: EventStore, label: String, firstBatch: Int) async throws -> [Double] {
    var times: [Double] = []
    for number in firstBatch..<(firstBatch + batches) {
        let events = batch(number)
        let start = ContinuousClock.now
        let result = try await store.write(events)
        let elapsed = ContinuousClock.now - start
        precondition(result.stored == 1000, "the batch must be new")
        times.append(Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
    }
    let sorted = times.sorted()
    print(
        String(
            format: "%@: %d batches of 1,000 events: median %.1f ms, p90 %.1f ms, min %.1f ms, max %.1f ms", label, batches,
            sorted[sorted.count / 2], sorted[sorted.count * 9 / 10], sorted.first!, sorted.last!))
    return sorted
}

if !reuse {
    try await withClient("postgres") { admin in
        try await admin.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(database) WITH (FORCE)"), logger: logger)
        try await admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(database)"), logger: logger)
    }
}
try await withClient(database) { client in
    let store = EventStore(client: client, logger: logger)
    try await store.migrate()
    if !reuse { _ = try await measure(store, label: "warm-up (empty database)", firstBatch: 0) }
    let empty = reuse ? [] : try await measure(store, label: "empty database", firstBatch: batches)

    // The fill: `rows` events over the last six months, straight in SQL (the batch path would take
    // hours), with what the worker derives from them, so every table the batch touches is large.
    print("filling \(rows) events …")
    let fillStart = ContinuousClock.now
    try await client.query("SELECT postwire_ensure_partitions(now() - interval '7 months', 9)", logger: logger)
    let chunk = 1_000_000
    for from in stride(from: 0, to: reuse ? 0 : rows, by: chunk) {
        let to = min(rows, from + chunk) - 1
        try await client.query(
            """
            WITH gen AS (
                SELECT n, now() - (n % 15552000) * interval '1 second' AS at,
                       (n::int8 * 2654435761) % \(addresses) AS r,
                       (ARRAY['delivered','delivered','delivered','opened','opened','clicked','deferred','bounced','bounced',
                              'complained','unsubscribed','queued'])[n % 12 + 1] AS type
                FROM generate_series(\(from), \(to)) n
            ), keys AS (
                INSERT INTO event_keys SELECT 'sendgrid', 'fill-' || n, at FROM gen RETURNING 1
            )
            INSERT INTO email_events (provider, event_key, source, event_type, esp_event, occurred_at, received_at, message_id,
                                      recipient, recipient_domain, sender, sender_domain, bounce_class, campaign, raw)
            SELECT 'sendgrid', 'fill-' || n, 'default', type, type, at, at, 'fill-msg-' || (n / 3),
                   'user' || r || '@' || (ARRAY['gmail.test','yahoo.test','outlook.test','corp.test'])[r % 4 + 1],
                   (ARRAY['gmail.test','yahoo.test','outlook.test','corp.test'])[r % 4 + 1],
                   'news@shop' || (n % 5) || '.test', 'shop' || (n % 5) || '.test',
                   CASE WHEN n % 12 = 7 THEN 'soft' WHEN n % 12 = 8 THEN 'hard' END, 'campaign-' || (n % 20), '{"fill":true}'
            FROM gen
            """, logger: logger)
        print("  \(to + 1) events (\(Int((ContinuousClock.now - fillStart).components.seconds)) s)")
    }
    print("deriving rollups, timelines, engagement and suppressions …")
    for statement: PostgresQuery in [
        """
        INSERT INTO event_counts_hourly (hour, provider, source, event_type, sender_domain, recipient_domain, campaign, count)
        SELECT date_trunc('hour', occurred_at, 'UTC'), provider, source, event_type, sender_domain, recipient_domain, campaign, count(*)
        FROM email_events GROUP BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT DO NOTHING
        """,
        """
        INSERT INTO message_status (provider, message_id, recipient, source, sender_domain, recipient_domain, campaign,
                                    delivered_at, opens, latest_state, latest_at, events)
        SELECT provider, message_id, min(recipient), 'default', min(sender_domain), min(recipient_domain), min(campaign),
               min(occurred_at) FILTER (WHERE event_type = 'delivered'), count(*) FILTER (WHERE event_type = 'opened'),
               'delivered', max(occurred_at), count(*)
        FROM email_events GROUP BY provider, message_id
        ON CONFLICT DO NOTHING
        """,
        """
        INSERT INTO recipient_engagement (address, domain, events, opens, clicks, first_seen, last_seen)
        SELECT recipient, min(recipient_domain), count(*), count(*) FILTER (WHERE event_type = 'opened'),
               count(*) FILTER (WHERE event_type = 'clicked'), min(occurred_at), max(occurred_at)
        FROM email_events GROUP BY recipient
        ON CONFLICT DO NOTHING
        """,
        """
        INSERT INTO suppressions (address, reason, suppressed_at, provider, source, event_key)
        SELECT DISTINCT ON (recipient) recipient, 'complaint', occurred_at, provider, source, event_key
        FROM email_events WHERE event_type = 'complained' ORDER BY recipient, occurred_at
        ON CONFLICT DO NOTHING
        """,
        "ANALYZE",
    ] {
        try await client.query(statement, logger: logger)
    }
    var counts: [String] = []
    for table in ["email_events", "event_keys", "event_counts_hourly", "message_status", "recipient_engagement", "suppressions"] {
        for try await count in try await client.query(PostgresQuery(unsafeSQL: "SELECT count(*)::int8 FROM \(table)"), logger: logger)
            .decode(Int64.self)
        {
            counts.append("\(table) \(count)")
        }
    }
    print("filled in \(Int((ContinuousClock.now - fillStart).components.seconds)) s: \(counts.joined(separator: ", "))")
    // Fresh batch numbers on every run, so `--reuse` measures new events too.
    let first = Int(Date().timeIntervalSince1970) % 100_000 * 100
    let full = try await measure(store, label: "\(rows) stored events", firstBatch: first)
    if let median = empty.isEmpty ? nil : empty[empty.count / 2] {
        print(
            String(
                format: "\nbatch transaction per 1,000 events (median): empty %.1f ms, with %d stored events %.1f ms (ratio %.2f)",
                median, rows, full[full.count / 2], full[full.count / 2] / median))
    }
}
