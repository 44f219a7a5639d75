import Foundation
import PostgresNIO

/// One row of `suppressions`.
public struct Suppression: Sendable, Equatable {
    public var address: String
    public var reason: String
    public var suppressedAt: Date
    public var provider: String
    public var source: String
    public var eventKey: String
    public var detail: String?
    public var liftedAt: Date?

    /// The columns both queries select, in order.
    typealias Row = (String, String, Date, String, String, String, String?, Date?)
    static let columns = "address, reason, suppressed_at, provider, source, event_key, detail, lifted_at"

    init(_ row: Row) {
        (address, reason, suppressedAt, provider, source, eventKey, detail, liftedAt) = row
    }
}

/// One row of `postwire stats`: the counts of `daily_counts` summed over a period and grouped by
/// the chosen dimensions, with the rates recomputed from the sums.
public struct StatsRow: Sendable, Equatable {
    public var group: [String]
    public var sent: Int64 = 0, delivered: Int64 = 0, bounced: Int64 = 0, complained: Int64 = 0, unsubscribed: Int64 = 0
    public var opens: Int64 = 0, uniqueOpens: Int64 = 0, clicks: Int64 = 0, uniqueClicks: Int64 = 0
    /// Opens and clicks no engagement rule called a machine's, and the machines' (docs/ANALYTICS.md).
    public var humanOpens: Int64 = 0, machineOpens: Int64 = 0, uniqueHumanOpens: Int64 = 0
    public var humanClicks: Int64 = 0, machineClicks: Int64 = 0, uniqueHumanClicks: Int64 = 0

    /// The `daily_counts` columns summed, in the order ``init(group:counts:)`` reads them.
    static let countColumns = [
        "sent", "delivered", "bounced", "complained", "unsubscribed", "opens", "unique_opens", "clicks", "unique_clicks",
        "human_opens", "machine_opens", "unique_human_opens", "human_clicks", "machine_clicks", "unique_human_clicks",
    ]

    public init(group: [String]) { self.group = group }

    init(group: [String], counts: [Int64]) {
        self.group = group
        let c = counts + Array(repeating: 0, count: max(0, Self.countColumns.count - counts.count))
        (sent, delivered, bounced, complained, unsubscribed) = (c[0], c[1], c[2], c[3], c[4])
        (opens, uniqueOpens, clicks, uniqueClicks) = (c[5], c[6], c[7], c[8])
        (humanOpens, machineOpens, uniqueHumanOpens, humanClicks, machineClicks, uniqueHumanClicks) = (
            c[9], c[10], c[11], c[12], c[13], c[14]
        )
    }

    public func rate(_ numerator: Int64, _ denominator: Int64) -> Double? {
        denominator > 0 ? Double(numerator) / Double(denominator) : nil
    }
    public var deliveryRate: Double? { rate(delivered, sent) }
    public var bounceRate: Double? { rate(bounced, sent) }
    public var complaintRate: Double? { rate(complained, delivered) }
    public var uniqueOpenRate: Double? { rate(uniqueOpens, delivered) }
    public var uniqueClickRate: Double? { rate(uniqueClicks, delivered) }
    public var uniqueHumanOpenRate: Double? { rate(uniqueHumanOpens, delivered) }
    public var uniqueHumanClickRate: Double? { rate(uniqueHumanClicks, delivered) }
}

/// What `postwire retention` removed (or would remove).
public struct RetentionOutcome: Sendable, Equatable {
    public var droppedPartitions: [String] = []
    public var deletedDefaultRows = 0
    public var deletedKeys = 0
}

extension EventStore {
    /// The dimensions `postwire stats --by` accepts (columns of `daily_counts`).
    public static let statsDimensions = [
        "day", "provider", "source", "sender_domain", "recipient_domain", "mailbox_provider", "campaign",
    ]

    /// Suppressions, active only unless `includeLifted`, in address order, page by page.
    public func suppressions(
        includeLifted: Bool = false, reason: String? = nil, each: (Suppression) throws -> Void
    )
        async throws(EventStoreError)
    {
        do {
            let rows = try await client.query(
                """
                SELECT \(unescaped: Suppression.columns) FROM suppressions
                WHERE (\(includeLifted) OR lifted_at IS NULL) AND (\(reason)::text IS NULL OR reason = \(reason))
                ORDER BY address
                """, logger: logger)
            for try await row in rows.decode(Suppression.Row.self) { try each(Suppression(row)) }
        } catch {
            throw EventStoreError.from(error)
        }
    }

    /// The suppression row of one address (lower-cased), lifted or not; nil if it never was suppressed.
    public func suppression(of address: String) async throws(EventStoreError) -> Suppression? {
        var found: Suppression?
        do {
            let rows = try await client.query(
                """
                SELECT \(unescaped: Suppression.columns) FROM suppressions
                WHERE address = lower(\(address.trimmingCharacters(in: .whitespaces)))
                """, logger: logger)
            for try await row in rows.decode(Suppression.Row.self) { found = Suppression(row) }
        } catch {
            throw EventStoreError.from(error)
        }
        return found
    }

    /// Counts and rates for days in [since, until), grouped by `by` (names from ``statsDimensions``).
    public func stats(since: Date, until: Date, by: [String]) async throws(EventStoreError) -> [StatsRow] {
        guard by.allSatisfy(Self.statsDimensions.contains) else {
            throw EventStoreError(.rejected, "unknown dimension in \(by); use \(Self.statsDimensions.joined(separator: ", "))")
        }
        // The dimension names are checked against a fixed list above, so they may be spliced in.
        let groupColumns = by.map { $0 == "day" ? "day::text" : $0 }
        let select = groupColumns.isEmpty ? "'all'" : groupColumns.joined(separator: " || E'\\t' || ")
        let groupBy = by.isEmpty ? "" : "GROUP BY " + by.joined(separator: ", ")
        let orderBy = by.isEmpty ? "" : "ORDER BY " + by.joined(separator: ", ")
        let sums = StatsRow.countColumns.map { "coalesce(sum(\($0)), 0)::int8" }.joined(separator: ", ")
        let query: PostgresQuery = """
            SELECT \(unescaped: select), ARRAY[\(unescaped: sums)]
            FROM daily_counts
            WHERE day >= (\(since) AT TIME ZONE 'UTC')::date AND day < (\(until) AT TIME ZONE 'UTC')::date
            \(unescaped: groupBy) \(unescaped: orderBy)
            """
        do {
            var result: [StatsRow] = []
            let rows = try await client.query(query, logger: logger)
            for try await (group, counts) in rows.decode((String, [Int64]).self) {
                result.append(StatsRow(group: by.isEmpty ? [] : group.components(separatedBy: "\t"), counts: counts))
            }
            return result
        } catch {
            throw EventStoreError.from(error)
        }
    }

    /// Drops the monthly partitions of `email_events` that end before `cutoff`, deletes older rows
    /// of the default partition, and forgets the event keys of events older than `cutoff`
    /// (an ESP never retries that late). Rollups and the other tables keep their history.
    public func applyRetention(cutoff: Date, dryRun: Bool) async throws(EventStoreError) -> RetentionOutcome {
        var outcome = RetentionOutcome()
        do {
            let rows = try await client.query(
                """
                SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'email_events'::regclass AND c.relname ~ '^email_events_y[0-9]{4}m[0-9]{2}$'
                  AND to_date(substring(c.relname FROM 15 FOR 4) || substring(c.relname FROM 20 FOR 2), 'YYYYMM')
                      + interval '1 month' <= (\(cutoff) AT TIME ZONE 'UTC')
                ORDER BY c.relname
                """, logger: logger)
            for try await name in rows.decode(String.self) { outcome.droppedPartitions.append(name) }
            if dryRun {
                for try await count in try await client.query(
                    "SELECT count(*)::int8 FROM email_events_default WHERE occurred_at < \(cutoff)", logger: logger
                ).decode(Int64.self) { outcome.deletedDefaultRows = Int(count) }
                for try await count in try await client.query(
                    "SELECT count(*)::int8 FROM event_keys WHERE occurred_at < \(cutoff)", logger: logger
                ).decode(Int64.self) { outcome.deletedKeys = Int(count) }
                return outcome
            }
            for name in outcome.droppedPartitions {
                // The name matched the partition pattern above, so it is safe to splice in.
                try await client.query(PostgresQuery(unsafeSQL: "DROP TABLE \(name)"), logger: logger)
            }
            for try await count in try await client.query(
                "WITH d AS (DELETE FROM email_events_default WHERE occurred_at < \(cutoff) RETURNING 1) SELECT count(*)::int8 FROM d",
                logger: logger
            ).decode(Int64.self) { outcome.deletedDefaultRows = Int(count) }
            // In slices, so no transaction holds millions of row locks.
            while true {
                var deleted = 0
                for try await count in try await client.query(
                    """
                    WITH d AS (DELETE FROM event_keys WHERE ctid IN (SELECT ctid FROM event_keys WHERE occurred_at < \(cutoff) LIMIT 50000)
                               RETURNING 1)
                    SELECT count(*)::int8 FROM d
                    """, logger: logger
                ).decode(Int64.self) { deleted = Int(count) }
                outcome.deletedKeys += deleted
                if deleted == 0 { break }
            }
            return outcome
        } catch {
            throw EventStoreError.from(error)
        }
    }

    /// Sets the password of the read-only analyst role.
    public func setAnalystPassword(_ password: String, role: String = "postwire_analyst") async throws(EventStoreError) {
        do {
            // ALTER ROLE takes no bind parameters; quote_literal makes the literal safe.
            var literal = ""
            for try await quoted in try await client.query("SELECT quote_literal(\(password))", logger: logger).decode(String.self) {
                literal = quoted
            }
            try await client.query(PostgresQuery(unsafeSQL: "ALTER ROLE \(role) PASSWORD \(literal)"), logger: logger)
        } catch {
            throw EventStoreError.from(error)
        }
    }
}
