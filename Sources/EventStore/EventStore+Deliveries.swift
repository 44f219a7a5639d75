import Foundation
import PostgresNIO

/// A delivery the dispatcher claimed: leased to it until the lease ends (then any dispatcher may
/// claim it again, so a dispatcher that dies mid-request costs a second attempt, never a loss).
public struct ClaimedDelivery: Sendable, Equatable {
    public var id: Int64
    /// This attempt's number, from 1.
    public var attempt: Int
    public var eventID: String
    /// The payload's text; nil when the event is no longer stored (retention removed it).
    public var payload: String?

    public init(id: Int64, attempt: Int, eventID: String, payload: String?) {
        self.id = id
        self.attempt = attempt
        self.eventID = eventID
        self.payload = payload
    }
}

/// One claim of an endpoint's due deliveries, with the endpoint's secrets as the same statement
/// read them: a rotation (`--overlap 0` after a leak) signs from the next claim on, not from the
/// dispatcher's next refresh of its endpoints.
public struct DeliveryClaim: Sendable, Equatable {
    public var deliveries: [ClaimedDelivery]
    public var secrets: [EndpointSecret]
}

/// What became of one request's deliveries.
public enum DeliveryOutcome: Sendable, Equatable {
    case delivered
    /// Try again at this time.
    case retry(at: Date)
    /// No more attempts: the schedule is spent, or the event is gone.
    case failed
    /// The endpoint stopped taking events (410, or disabled for failing): the deliveries wait,
    /// due at once, for it to be enabled again.
    case held
}

/// One attempt as `webhook_attempts` records it.
public struct AttemptRecord: Sendable, Equatable {
    public var webhookID: String
    public var attemptedAt: Date
    /// The HTTP status; nil when no answer came (refused, timed out, reset).
    public var status: Int?
    public var latencyMilliseconds: Double
    public var error: String?
    public var responseExcerpt: String?

    public init(
        webhookID: String, attemptedAt: Date, status: Int?, latencyMilliseconds: Double, error: String? = nil,
        responseExcerpt: String? = nil
    ) {
        self.webhookID = webhookID
        self.attemptedAt = attemptedAt
        self.status = status
        self.latencyMilliseconds = latencyMilliseconds
        self.error = error
        self.responseExcerpt = responseExcerpt
    }
}

/// An endpoint's queue, for metrics and `postwire endpoints list`.
public struct EndpointBacklog: Sendable, Equatable {
    public var endpoint: String
    public var pending: Int
    /// Pending deliveries whose time has come and that no dispatcher is sending.
    public var due: Int
    /// How long the longest-waiting due delivery has waited, in seconds (0: none due).
    public var oldestDueSeconds: Double
    public var failed: Int
}

extension EventStore {
    /// Claims up to `limit` due deliveries of one enabled endpoint, oldest due first, leased for
    /// `lease` seconds: nobody else claims or retries them until the lease ends. `SKIP LOCKED`:
    /// dispatchers claiming at once take different rows and never wait. The endpoint is checked
    /// here, not only when the lane was started, so a disabled one is sent nothing more.
    public func claimDeliveries(endpoint: Int64, limit: Int, lease: TimeInterval) async throws(EventStoreError) -> DeliveryClaim {
        let query: PostgresQuery = """
            WITH due AS (
                SELECT d.id, e.secrets::text AS secrets FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled
                WHERE d.endpoint_id = \(endpoint) AND d.status = 'pending' AND d.due_at <= now()
                    AND (d.leased_until IS NULL OR d.leased_until <= now())
                ORDER BY d.due_at, d.id LIMIT \(Int64(limit)) FOR UPDATE OF d SKIP LOCKED
            ), leased AS (
                UPDATE webhook_deliveries d SET leased_until = now() + \(lease) * interval '1 second', attempts = d.attempts + 1
                FROM due WHERE d.id = due.id
                RETURNING d.id, d.attempts, d.provider, d.event_key, d.occurred_at, due.secrets
            )
            SELECT l.id, l.attempts, \(unescaped: WebhookPayload.eventID("l")), \(unescaped: WebhookPayload.sql), l.secrets
            FROM leased l LEFT JOIN email_events e
                ON e.provider = l.provider AND e.event_key = l.event_key AND e.occurred_at = l.occurred_at
            ORDER BY l.id
            """
        do {
            var claim = DeliveryClaim(deliveries: [], secrets: [])
            for try await (id, attempt, eventID, payload, secrets) in try await client.query(query, logger: logger).decode(
                (Int64, Int32, String, String?, String).self)
            {
                // Every row carries the one endpoint's secrets.
                if claim.deliveries.isEmpty { claim.secrets = Self.decodeSecrets(secrets) }
                claim.deliveries.append(ClaimedDelivery(id: id, attempt: Int(attempt), eventID: eventID, payload: payload))
            }
            return claim
        } catch {
            throw EventStoreError.from(error)
        }
    }

    /// Records one request's attempt for each of its deliveries and what became of each, in one
    /// statement, and ends their lease. Only the claim that made this attempt may record it: a
    /// dispatcher whose lease ran out while its request was under way (another has claimed the
    /// delivery since, `attempts` moved on) changes nothing, unless it was delivered. A delivery
    /// already delivered stays as it was: delivered is recorded once.
    public func record(
        _ outcomes: [(delivery: ClaimedDelivery, outcome: DeliveryOutcome)], attempt: AttemptRecord
    )
        async throws(EventStoreError)
    {
        guard !outcomes.isEmpty else { return }
        // Each outcome as the row's new status and due time (only a pending row's is read).
        let now = Date()
        let rows: [(status: String, due: Date)] = outcomes.map { _, outcome in
            switch outcome {
            case .delivered: ("delivered", now)
            case .failed: ("failed", now)
            case .retry(let at): ("pending", at)
            case .held: ("pending", now)
            }
        }
        let statuses = rows.map(\.status)
        let dues = rows.map(\.due)
        let ids = outcomes.map(\.delivery.id)
        let numbers = outcomes.map { Int32($0.delivery.attempt) }
        let httpStatus = attempt.status.map(Int32.init)
        let query: PostgresQuery = """
            WITH t AS (
                SELECT * FROM unnest(\(ids)::int8[], \(numbers)::int4[], \(statuses)::text[], \(dues)::timestamptz[]) AS t(id, n, status, due)
            ), attempts AS (
                INSERT INTO webhook_attempts (delivery_id, webhook_id, attempt, attempted_at, status, latency_ms, error, response_excerpt)
                SELECT id, \(attempt.webhookID), n, \(attempt.attemptedAt), \(httpStatus), \(attempt.latencyMilliseconds),
                    \(attempt.error), \(attempt.responseExcerpt)
                FROM t
            )
            UPDATE webhook_deliveries d SET status = t.status, due_at = CASE WHEN t.status = 'pending' THEN t.due ELSE d.due_at END,
                delivered_at = CASE WHEN t.status = 'delivered' THEN now() END, last_status = \(httpStatus),
                last_error = \(attempt.error), leased_until = NULL
            FROM t
            WHERE d.id = t.id AND d.status = 'pending' AND (d.attempts = t.n OR t.status = 'delivered')
            """
        do {
            try await client.query(query, logger: logger)
        } catch {
            throw EventStoreError.from(error)
        }
    }

    /// An answer in 2xx: the endpoint is healthy again.
    public func endpointSucceeded(_ id: Int64) async throws(EventStoreError) {
        do {
            try await client.query(
                "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = \(id) AND failing_since IS NOT NULL", logger: logger)
        } catch {
            throw EventStoreError.from(error)
        }
    }

    /// A failed attempt: notes since when the endpoint fails and answers whether that is longer
    /// than `disableAfter` seconds.
    public func endpointFailed(_ id: Int64, disableAfter: TimeInterval) async throws(EventStoreError) -> Bool {
        do {
            let rows = try await client.query(
                """
                WITH e AS (
                    UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, now()) WHERE id = \(id)
                    RETURNING failing_since
                )
                SELECT failing_since < now() - \(disableAfter) * interval '1 second' FROM e
                """, logger: logger)
            var expired = false
            for try await value in rows.decode(Bool.self) { expired = value }
            return expired
        } catch {
            throw EventStoreError.from(error)
        }
    }

    /// Disables an endpoint and writes an alert row, once: answers false when it was disabled already.
    @discardableResult
    public func disableEndpoint(_ id: Int64, kind: String, message: String) async throws(EventStoreError) -> Bool {
        do {
            let rows = try await client.query(
                """
                WITH d AS (
                    UPDATE webhook_endpoints SET enabled = false, disabled_reason = \(message), updated_at = now()
                    WHERE id = \(id) AND enabled RETURNING id
                )
                INSERT INTO webhook_alerts (endpoint_id, kind, message) SELECT id, \(kind), \(message) FROM d RETURNING 1
                """, logger: logger)
            var disabled = false
            for try await _ in rows { disabled = true }
            return disabled
        } catch {
            throw EventStoreError.from(error)
        }
    }

    /// A delivery whose time has come and that nobody is sending.
    static let waiting = "d.status = 'pending' AND d.due_at <= now() AND (d.leased_until IS NULL OR d.leased_until <= now())"

    /// Every endpoint's queue.
    public func backlogs() async throws(EventStoreError) -> [EndpointBacklog] {
        do {
            let rows = try await client.query(
                """
                SELECT e.name,
                       count(d.id) FILTER (WHERE d.status = 'pending')::int8,
                       count(d.id) FILTER (WHERE \(unescaped: Self.waiting))::int8,
                       coalesce(extract(epoch FROM now() - min(d.due_at) FILTER (WHERE \(unescaped: Self.waiting))), 0)::float8,
                       count(d.id) FILTER (WHERE d.status = 'failed')::int8
                FROM webhook_endpoints e LEFT JOIN webhook_deliveries d ON d.endpoint_id = e.id AND d.status <> 'delivered'
                GROUP BY e.name ORDER BY e.name
                """, logger: logger)
            var result: [EndpointBacklog] = []
            for try await (name, pending, due, oldest, failed) in rows.decode((String, Int64, Int64, Double, Int64).self) {
                result.append(
                    EndpointBacklog(endpoint: name, pending: Int(pending), due: Int(due), oldestDueSeconds: oldest, failed: Int(failed)))
            }
            return result
        } catch {
            throw EventStoreError.from(error)
        }
    }
}
