import EmailEvents
import Foundation
import PostgresNIO

/// The outcome of one batch write.
public struct BatchWriteResult: Sendable, Equatable {
    /// Events that were new and are now stored and counted.
    public var stored: Int
    /// Events whose key was already stored (ESP retry, redelivery, replay): counted before.
    public var duplicates: Int
    /// Alerts this batch raised (rows new in `alerts`).
    public var alerts: [RaisedAlert]

    public init(stored: Int, duplicates: Int, alerts: [RaisedAlert] = []) {
        self.stored = stored
        self.duplicates = duplicates
        self.alerts = alerts
    }
}

extension EventStore {
    /// Records a batch exactly once (docs/DESIGN.md guarantee 3), with everything derived from it, in
    /// one transaction (docs/ANALYTICS.md):
    ///
    /// 1. The event keys are inserted into `event_keys` with `ON CONFLICT DO NOTHING`; only the
    ///    events whose key was new go on, into `email_events` and into the session's `batch_new`
    ///    table. A redelivered or replayed event stops here, so it changes no analytic table.
    /// 2. From `batch_new`, set-based and in key order (so concurrent batches wait for each other
    ///    rather than deadlock): message timelines and unique opens and clicks, recipient
    ///    engagement, suppressions (including the soft-bounce rule and re-subscribes), then the
    ///    counters all batches share (hourly, unique and domain counts, processing statistics),
    ///    and alerts.
    ///
    /// Every statement touches only the rows of this batch's events through indexes, so its cost
    /// does not grow with the tables. Columns travel as arrays (`unnest`): a 1,000-event batch is
    /// one round trip for the events, not 1,000 statements (``EventColumns``).
    public func write(_ events: [EmailEvent]) async throws(EventStoreError) -> BatchWriteResult {
        guard !events.isEmpty else { return BatchWriteResult(stored: 0, duplicates: 0) }
        do {
            return try await transaction { connection in
                try await run(Self.createBatchTables, on: connection)
                var stored = 0
                for try await count in try await rows(Self.insertNew(events), on: connection).decode(Int64.self) { stored = Int(count) }
                if stored > 0 {
                    for statement in Self.derive(policy) { try await run(statement, on: connection) }
                }
                try await run(Self.processingStats(received: events.count), on: connection)
                var alerts: [RaisedAlert] = []
                if stored > 0 {
                    for try await (kind, domain, rate, threshold, numerator, denominator) in try await rows(
                        Self.alerts(policy), on: connection
                    )
                    .decode((String, String, Double, Double, Int64, Int64).self) {
                        alerts.append(
                            RaisedAlert(
                                kind: kind, senderDomain: domain, rate: rate, threshold: threshold, numerator: numerator,
                                denominator: denominator))
                    }
                }
                return BatchWriteResult(stored: stored, duplicates: events.count - stored, alerts: alerts)
            }
        } catch {
            throw EventStoreError.from(error)
        }
    }

    /// Counts entries dead-lettered this hour in `processing_stats_hourly`.
    public func recordDeadLetters(_ count: Int) async throws(EventStoreError) {
        do {
            try await client.query(
                """
                INSERT INTO processing_stats_hourly AS s (hour, dead_lettered) VALUES (date_trunc('hour', now(), 'UTC'), \(count))
                ON CONFLICT (hour) DO UPDATE SET dead_lettered = s.dead_lettered + EXCLUDED.dead_lettered
                """, logger: logger)
        } catch {
            throw EventStoreError.from(error)
        }
    }

    /// Every statement of the transaction goes through here. PostgresNIO 1.33 never answers a
    /// query written to a connection the server has already closed (the write is sent with no
    /// promise), so none is started on one: PostgreSQL stopping mid-batch would leave the worker
    /// waiting forever.
    func rows(_ query: PostgresQuery, on connection: PostgresConnection) async throws -> PostgresRowSequence {
        if connection.isClosed { throw EventStoreError(.unavailable, "the connection to PostgreSQL closed") }
        return try await connection.query(query, logger: logger)
    }

    /// Runs a statement and reads its rows to the end: a connection does not take its next query
    /// while rows of the last one wait to be read (and waits forever once they fill its buffer).
    func run(_ query: PostgresQuery, on connection: PostgresConnection) async throws {
        for try await _ in try await rows(query, on: connection) {}
    }

    /// BEGIN … COMMIT on one connection, ROLLBACK on error (when the connection is still there);
    /// errors come out as PostgresNIO threw them.
    func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            try await run("BEGIN", on: connection)
            do {
                let value = try await body(connection)
                try await run("COMMIT", on: connection)
                return value
            } catch {
                if !connection.isClosed { _ = try? await connection.query("ROLLBACK", logger: logger) }
                throw error
            }
        }
    }
}
