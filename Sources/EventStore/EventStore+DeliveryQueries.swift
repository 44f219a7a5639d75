import Foundation
import PostgresNIO

/// One row of `webhook_deliveries`, as `postwire deliveries list|show` shows it.
public struct DeliveryRow: Sendable, Equatable {
    public var id: Int64
    public var endpoint: String
    public var provider: String
    public var eventKey: String
    public var eventType: String
    public var replay: Int64
    public var status: String
    public var attempts: Int
    public var dueAt: Date
    public var createdAt: Date
    public var deliveredAt: Date?
    public var lastStatus: Int?
    public var lastError: String?
}

/// One row of `webhook_attempts`.
public struct AttemptRow: Sendable, Equatable {
    public var attempt: Int
    public var webhookID: String
    public var attemptedAt: Date
    public var status: Int?
    public var latencyMilliseconds: Double
    public var error: String?
    public var responseExcerpt: String?
}

/// Which deliveries a listing or a retry means; nil: any.
public struct DeliverySelection: Sendable, Equatable {
    public var endpoint: String?
    public var status: String?
    public var since: Date?
    public var until: Date?
    public var ids: [Int64]?

    public init(endpoint: String? = nil, status: String? = nil, since: Date? = nil, until: Date? = nil, ids: [Int64]? = nil) {
        self.endpoint = endpoint
        self.status = status
        self.since = since
        self.until = until
        self.ids = ids
    }

    /// `head`, the condition over `webhook_deliveries d JOIN webhook_endpoints e`, then `tail`
    /// (neither holds a value from outside).
    func query(_ head: String, _ tail: String) -> PostgresQuery {
        """
        \(unescaped: head) (\(endpoint)::text IS NULL OR e.name = \(endpoint)) AND (\(status)::text IS NULL OR d.status = \(status))
        AND (\(since)::timestamptz IS NULL OR d.created_at >= \(since)) AND (\(until)::timestamptz IS NULL OR d.created_at < \(until))
        AND (\(ids)::int8[] IS NULL OR d.id = ANY (\(ids)::int8[])) \(unescaped: tail)
        """
    }
}

extension EventStore {
    /// Deliveries, newest first.
    public func deliveries(_ selection: DeliverySelection, limit: Int = 100) async throws(EventStoreError) -> [DeliveryRow] {
        let query = selection.query(
            """
            SELECT d.id, e.name, d.provider, d.event_key, d.event_type, d.replay, d.status, d.attempts, d.due_at, d.created_at,
                   d.delivered_at, d.last_status, d.last_error
            FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE
            """, "ORDER BY d.id DESC LIMIT \(max(1, limit))")
        do {
            var result: [DeliveryRow] = []
            for try await row in try await client.query(query, logger: logger) {
                let (id, endpoint, provider, key, type, replay, status, attempts, due, created, delivered, lastStatus, lastError) =
                    try row.decode((Int64, String, String, String, String, Int64, String, Int32, Date, Date, Date?, Int32?, String?).self)
                result.append(
                    DeliveryRow(
                        id: id, endpoint: endpoint, provider: provider, eventKey: key, eventType: type, replay: replay, status: status,
                        attempts: Int(attempts), dueAt: due, createdAt: created, deliveredAt: delivered,
                        lastStatus: lastStatus.map(Int.init),
                        lastError: lastError))
            }
            return result
        } catch {
            throw EventStoreError.from(error)
        }
    }

    /// A delivery's attempts, oldest first.
    public func attempts(delivery id: Int64) async throws(EventStoreError) -> [AttemptRow] {
        do {
            var result: [AttemptRow] = []
            for try await (attempt, webhookID, at, status, latency, error, excerpt) in try await client.query(
                """
                SELECT attempt, webhook_id, attempted_at, status, latency_ms, error, response_excerpt
                FROM webhook_attempts WHERE delivery_id = \(id) ORDER BY attempted_at, id
                """, logger: logger
            ).decode((Int32, String, Date, Int32?, Double, String?, String?).self) {
                result.append(
                    AttemptRow(
                        attempt: Int(attempt), webhookID: webhookID, attemptedAt: at, status: status.map(Int.init),
                        latencyMilliseconds: latency, error: error, responseExcerpt: excerpt))
            }
            return result
        } catch {
            throw EventStoreError.from(error)
        }
    }

    /// Makes the selected deliveries that are not delivered due now, failed ones included (they
    /// get the whole schedule again). One a dispatcher is sending right now is left to it. Answers
    /// how many.
    public func retryDeliveries(_ selection: DeliverySelection) async throws(EventStoreError) -> Int {
        let query = selection.query(
            """
            WITH chosen AS (
                SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
                WHERE (d.status = 'failed' OR (d.status = 'pending' AND (d.leased_until IS NULL OR d.leased_until <= now()))) AND
            """,
            """
            ), retried AS (
                UPDATE webhook_deliveries d SET status = 'pending', due_at = now(),
                    attempts = CASE WHEN d.status = 'failed' THEN 0 ELSE d.attempts END
                FROM chosen WHERE d.id = chosen.id RETURNING 1
            )
            SELECT count(*)::int8 FROM retried
            """)
        return try await count(query)
    }

    /// Offers an endpoint again every stored event that occurred in `since ..< until` and passes
    /// its filter today, as new deliveries of one replay (`webhook_replays`). Answers how many.
    public func replay(endpoint name: String, since: Date, until: Date) async throws(EventStoreError) -> Int {
        guard since < until else { throw EventStoreError(.rejected, "the replay's start must come before its end") }
        // The replay's row is written last, with the count: sibling statements of one WITH see
        // the same snapshot, so a row inserted first could not be updated after.
        let query: PostgresQuery = """
            WITH r AS (
                SELECT nextval('webhook_replays_id_seq') AS id, id AS endpoint_id FROM webhook_endpoints WHERE name = \(name)
            ), offered AS (
                INSERT INTO webhook_deliveries (endpoint_id, provider, event_key, occurred_at, event_type, replay)
                SELECT e.id, ev.provider, ev.event_key, ev.occurred_at, ev.event_type, r.id
                FROM r JOIN webhook_endpoints e ON e.id = r.endpoint_id
                JOIN email_events ev ON ev.occurred_at >= \(since) AND ev.occurred_at < \(until)
                    AND \(unescaped: Self.passesFilter(event: "ev", endpoint: "e"))
                ORDER BY ev.occurred_at, ev.provider, ev.event_key
                RETURNING 1
            ), recorded AS (
                INSERT INTO webhook_replays (id, endpoint_id, since, until, deliveries)
                SELECT id, endpoint_id, \(since), \(until), (SELECT count(*) FROM offered) FROM r
                RETURNING deliveries
            )
            SELECT deliveries FROM recorded
            """
        do {
            var result: Int64?
            for try await value in try await client.query(query, logger: logger).decode(Int64.self) { result = value }
            guard let result else { throw EventStoreError(.rejected, "no endpoint named \(name)") }
            return Int(result)
        } catch {
            throw EventStoreError.from(error)
        }
    }

    private func count(_ query: PostgresQuery) async throws(EventStoreError) -> Int {
        do {
            var result: Int64 = 0
            for try await value in try await client.query(query, logger: logger).decode(Int64.self) { result = value }
            return Int(result)
        } catch {
            throw EventStoreError.from(error)
        }
    }
}
