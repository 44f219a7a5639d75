import EmailEvents
import PostgresNIO

/// The statements of the batch transaction (see ``EventStore/write(_:)``), in the order they run.
/// All but the first read the events new in this batch from `batch_new`, a temporary table of the
/// session that empties at every commit.
extension EventStore {
    /// The session's scratch tables, made by its first batch, in one round trip (and without the
    /// notice `IF NOT EXISTS` sends for every existing table): `batch_new` holds the batch's new
    /// events; `batch_created` the message rows this batch made; `batch_unique_deltas` the unique
    /// open and click changes, kept until the shared counters are updated at the end. They are
    /// made together in one transaction, so one tells for all three.
    static let createBatchTables: PostgresQuery = """
        DO $$ BEGIN
            IF to_regclass('pg_temp.batch_new') IS NULL THEN
                CREATE TEMP TABLE batch_new (\(unescaped: batchNewColumns.map { "\($0.name) \($0.type)" }.joined(separator: ", ")))
                    ON COMMIT DELETE ROWS;
                CREATE TEMP TABLE batch_created (provider text, message_id text, recipient text) ON COMMIT DELETE ROWS;
                CREATE TEMP TABLE batch_unique_deltas (
                    hour timestamptz, provider text, source text, kind text, sender_domain text,
                    recipient_domain text, campaign text, delta bigint
                ) ON COMMIT DELETE ROWS;
                CREATE TEMP TABLE batch_flips (
                    hour timestamptz, provider text, source text, sender_domain text, recipient_domain text, campaign text,
                    recipient text, message_id text, delta bigint, counted boolean
                ) ON COMMIT DELETE ROWS;
            END IF;
        END $$
        """

    /// Event keys first: only events whose key is new are stored, and remembered in `batch_new`
    /// (recipients in lower case), and offered to the endpoints (the outbox, docs/DELIVERY.md):
    /// one delivery per new event and enabled endpoint whose filter it passes, in the transaction
    /// that stores the event, so an event is offered exactly once per endpoint whatever retried
    /// the batch, and an ESP's duplicate is never offered. With no endpoint the join is empty and
    /// costs the batch nothing more: it is part of this statement, not a round trip of its own.
    /// Answers how many were new. The batch travels as one array per column of ``EventColumns``,
    /// which the statement's column lists come from.
    static func insertNew(_ events: [EmailEvent]) throws -> PostgresQuery {
        PostgresQuery(unsafeSQL: insertNewSQL, binds: try EventColumns.bindings(events))
    }

    static let insertNewSQL = """
        WITH input AS (
            SELECT DISTINCT ON (provider, event_key) * FROM \(EventColumns.unnest)
            ORDER BY provider, event_key
        ), keys AS (
            INSERT INTO event_keys (provider, event_key, occurred_at)
            SELECT provider, event_key, occurred_at FROM input ORDER BY provider, event_key
            ON CONFLICT DO NOTHING
            RETURNING provider, event_key
        ), inserted AS (
            INSERT INTO email_events (\(EventColumns.names))
            SELECT \(EventColumns.values)
            FROM input JOIN keys USING (provider, event_key)
            RETURNING \(batchNewColumns.map { "\($0.value) AS \($0.name)" }.joined(separator: ", "))
        ), remembered AS (
            INSERT INTO batch_new (\(batchNewColumns.map(\.name).joined(separator: ", ")))
            SELECT \(batchNewColumns.map(\.name).joined(separator: ", ")) FROM inserted RETURNING 1
        ), offered AS (
            -- ON CONFLICT: an event stored again after retention removed its key may still have
            -- its old delivery.
            INSERT INTO webhook_deliveries (endpoint_id, provider, event_key, occurred_at, event_type)
            SELECT e.id, i.provider, i.event_key, i.occurred_at, i.event_type
            FROM inserted i JOIN webhook_endpoints e ON e.enabled AND \(passesFilter(event: "i", endpoint: "e"))
            ON CONFLICT DO NOTHING
        )
        SELECT count(*)::int8 FROM remembered
        """

    /// What the derived statements read of each new event, by name: `batch_new`'s columns and the
    /// expressions over the stored row that fill them.
    static let batchNewColumns: [(name: String, type: String, value: String)] = [
        ("provider", "text", "provider"), ("event_key", "text", "event_key"), ("source", "text", "source"),
        ("event_type", "text", "event_type"), ("occurred_at", "timestamptz", "occurred_at"),
        ("received_at", "timestamptz", "received_at"), ("message_id", "text", "message_id"),
        ("recipient", "text", "lower(recipient)"), ("recipient_domain", "text", "recipient_domain"),
        ("sender_domain", "text", "sender_domain"), ("campaign", "text", "campaign"), ("bounce_class", "text", "bounce_class"),
        ("machine", "boolean", "coalesce(machine, false)"), ("detail", "text", "coalesce(description, mta_response)"),
    ]

    /// Everything derived from the new events, in order.
    ///
    /// The counters every batch shares (hourly, unique and per-domain counts, then the processing
    /// statistics) come last. A batch holds the locks of the rows it updated until it commits, and
    /// those rows are the same for most batches of an hour: updated first, they would make
    /// concurrent batches wait for each other's whole transaction; updated last, they are held
    /// only for the tail and the commit (docs/PERFORMANCE.md, worker).
    static func derive(_ policy: AnalyticsPolicy) -> [PostgresQuery] {
        let timing = timingEnabled(policy)
        // Clicks are judged once their message's row is held: a concurrent batch with more clicks
        // of the same message waits, so neither judges a burst from half of it.
        return [insertMessages, lockMessageRows]
            + (timing ? [classifyClicks(policy)] : [])
            + [updateMessages]
            + (timing ? [applyClickFlipsToMessages] : [])
            + [engagement]
            + (timing ? [applyClickFlipsToRecipients] : [])
            + [suppress(policy), liftUnsubscribes, hourlyCounts, uniqueCounts, domainCounts]
    }

    /// Whether the event row `event` passes the filter of the endpoint row `endpoint` (an empty
    /// list matches everything); the outbox and replays ask the same.
    static func passesFilter(event: String, endpoint: String) -> String {
        let (v, e) = (event, endpoint)
        return """
            (cardinality(\(e).event_types) = 0 OR \(v).event_type = ANY (\(e).event_types))
            AND (cardinality(\(e).providers) = 0 OR \(v).provider = ANY (\(e).providers))
            AND (cardinality(\(e).sources) = 0 OR \(v).source = ANY (\(e).sources))
            AND (cardinality(\(e).campaigns) = 0 OR \(v).campaign = ANY (\(e).campaigns))
            AND (cardinality(\(e).sender_domains) = 0 OR lower(\(v).sender_domain) = ANY (\(e).sender_domains))
            """
    }

    static let hourlyCounts: PostgresQuery = """
        INSERT INTO event_counts_hourly AS c
            (hour, provider, source, event_type, sender_domain, recipient_domain, campaign, count, machine)
        SELECT hour, provider, source, event_type, sender_domain, recipient_domain, campaign, sum(count), sum(machine)
        FROM (
            SELECT date_trunc('hour', occurred_at, 'UTC') AS hour, provider, source, event_type,
                   coalesce(sender_domain, '') AS sender_domain, coalesce(recipient_domain, '') AS recipient_domain,
                   coalesce(campaign, '') AS campaign, 1 AS count, CASE WHEN machine THEN 1 ELSE 0 END AS machine
            FROM batch_new
            UNION ALL
            -- Clicks stored earlier whose verdict this batch changed (EventStore+ClickTiming).
            SELECT hour, provider, source, 'clicked', sender_domain, recipient_domain, campaign, 0, delta FROM batch_flips WHERE counted
        ) AS rows
        GROUP BY 1, 2, 3, 4, 5, 6, 7
        ORDER BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT (hour, provider, source, event_type, sender_domain, recipient_domain, campaign)
        DO UPDATE SET count = c.count + EXCLUDED.count, machine = c.machine + EXCLUDED.machine
        """

    /// A message's numbers from this batch's events of it, one row per message and recipient.
    /// `filter` leaves out messages (a `WHERE` condition on `batch_new`).
    static func messageAggregates(where filter: String) -> String {
        """
        SELECT provider, message_id, recipient,
               (array_agg(source ORDER BY occurred_at, event_key))[1] AS source,
               (array_agg(coalesce(sender_domain, '') ORDER BY occurred_at, event_key))[1] AS sender_domain,
               (array_agg(coalesce(recipient_domain, '') ORDER BY occurred_at, event_key))[1] AS recipient_domain,
               (array_agg(coalesce(campaign, '') ORDER BY occurred_at, event_key))[1] AS campaign,
               min(occurred_at) FILTER (WHERE event_type = 'queued') AS queued,
               min(occurred_at) FILTER (WHERE event_type = 'sent') AS sent,
               min(occurred_at) FILTER (WHERE event_type = 'delivered') AS delivered,
               min(occurred_at) FILTER (WHERE event_type = 'deferred') AS deferred,
               count(*) FILTER (WHERE event_type = 'deferred') AS deferrals,
               min(occurred_at) FILTER (WHERE event_type = 'bounced') AS bounced,
               (array_agg(bounce_class ORDER BY occurred_at) FILTER (WHERE event_type = 'bounced'))[1] AS bounce_class,
               min(occurred_at) FILTER (WHERE event_type = 'rejected') AS rejected,
               min(occurred_at) FILTER (WHERE event_type = 'failed') AS failed,
               min(occurred_at) FILTER (WHERE event_type = 'opened') AS opened,
               count(*) FILTER (WHERE event_type = 'opened') AS opens,
               min(occurred_at) FILTER (WHERE event_type = 'clicked') AS clicked,
               count(*) FILTER (WHERE event_type = 'clicked') AS clicks,
               min(occurred_at) FILTER (WHERE event_type = 'opened' AND NOT machine) AS human_opened,
               count(*) FILTER (WHERE event_type = 'opened' AND NOT machine) AS human_opens,
               min(occurred_at) FILTER (WHERE event_type = 'clicked' AND NOT machine) AS human_clicked,
               count(*) FILTER (WHERE event_type = 'clicked' AND NOT machine) AS human_clicks,
               min(occurred_at) FILTER (WHERE event_type = 'complained') AS complained,
               min(occurred_at) FILTER (WHERE event_type = 'unsubscribed') AS unsubscribed,
               (array_agg(event_type ORDER BY occurred_at DESC, event_key DESC) FILTER (WHERE event_type <> 'unknown'))[1]
                   AS latest_state,
               max(occurred_at) FILTER (WHERE event_type <> 'unknown') AS latest_at,
               count(*) AS events
        FROM batch_new b
        WHERE message_id IS NOT NULL AND recipient IS NOT NULL AND \(filter)
        GROUP BY provider, message_id, recipient
        """
    }

    /// Messages seen for the first time get their whole row in one insert, dimensions from their
    /// earliest event, and count a unique open and click if they have one; they are remembered in
    /// `batch_created` so the update below leaves them alone: inserting an empty row and updating
    /// it would write every new message twice, in an update that cannot be HOT. A message another
    /// batch is inserting at the same moment
    /// conflicts, waits for that batch to commit, and is then updated like any existing one.
    static let insertMessages: PostgresQuery = """
        WITH agg AS (
            \(unescaped: messageAggregates(where: "true"))
        ), created AS (
            INSERT INTO message_status (
                provider, message_id, recipient, source, sender_domain, recipient_domain, campaign, queued_at, sent_at,
                delivered_at, first_deferred_at, deferrals, bounced_at, bounce_class, rejected_at, failed_at,
                first_opened_at, opens, first_clicked_at, clicks, complained_at, unsubscribed_at, latest_state,
                latest_at, events, first_human_opened_at, human_opens, first_human_clicked_at, human_clicks)
            SELECT provider, message_id, recipient, source, sender_domain, recipient_domain, campaign, queued, sent,
                   delivered, deferred, deferrals, bounced, bounce_class, rejected, failed, opened, opens, clicked,
                   clicks, complained, unsubscribed, latest_state, latest_at, events, human_opened, human_opens,
                   human_clicked, human_clicks
            FROM agg
            ORDER BY provider, message_id, recipient
            ON CONFLICT DO NOTHING
            RETURNING provider, message_id, recipient, source, sender_domain, recipient_domain, campaign,
                      first_opened_at, first_clicked_at, first_human_opened_at, first_human_clicked_at
        ), remembered AS (
            INSERT INTO batch_created SELECT provider, message_id, recipient FROM created RETURNING 1
        )
        INSERT INTO batch_unique_deltas
        SELECT date_trunc('hour', f.at, 'UTC'), c.provider, c.source, f.kind, c.sender_domain, c.recipient_domain, c.campaign, 1
        FROM created c
        CROSS JOIN LATERAL (VALUES ('open', c.first_opened_at), ('click', c.first_clicked_at),
                                   ('human_open', c.first_human_opened_at), ('human_click', c.first_human_clicked_at)) AS f(kind, at)
        WHERE f.at IS NOT NULL
        """

    /// The `batch_new` row `b` is of a message this batch did not create.
    static let notCreated = """
        NOT EXISTS (SELECT 1 FROM batch_created c
                    WHERE c.provider = b.provider AND c.message_id = b.message_id AND c.recipient = b.recipient)
        """

    /// Locks the batch's existing message rows in key order: the next statement reads their first
    /// open and click to count unique ones, and no other batch may change them in between.
    static let lockMessageRows: PostgresQuery = """
        SELECT 1 FROM message_status m
        WHERE (m.provider, m.message_id, m.recipient) IN
              (SELECT provider, message_id, recipient FROM batch_new b
               WHERE message_id IS NOT NULL AND recipient IS NOT NULL AND \(unescaped: notCreated))
        ORDER BY m.provider, m.message_id, m.recipient
        FOR UPDATE
        """

    /// Timelines, and unique opens and clicks, of messages that existed before this batch: a
    /// message's first open (click) counts once, in the hour it happened; an earlier one arriving
    /// later moves the count to its hour.
    static let updateMessages: PostgresQuery = """
        WITH agg AS (
            \(unescaped: messageAggregates(where: notCreated))
        ), firsts AS (
            -- A first open (click) earlier than the stored one, or the first at all. (The rows
            -- are read as locked, before this statement's update.)
            SELECT o.provider, o.source, o.sender_domain, o.recipient_domain, o.campaign, f.kind, f.new_at, f.old_at
            FROM agg a JOIN message_status o USING (provider, message_id, recipient)
            CROSS JOIN LATERAL (VALUES ('open', a.opened, o.first_opened_at), ('click', a.clicked, o.first_clicked_at),
                                       ('human_open', a.human_opened, o.first_human_opened_at),
                                       ('human_click', a.human_clicked, o.first_human_clicked_at))
                AS f(kind, new_at, old_at)
            WHERE f.new_at IS NOT NULL AND (f.old_at IS NULL OR f.new_at < f.old_at)
        ), deltas AS (
            -- It counts in its hour; the one it displaces stops counting in its own.
            SELECT date_trunc('hour', new_at, 'UTC') AS hour, provider, source, kind, sender_domain, recipient_domain,
                   campaign, 1 AS delta
            FROM firsts
            UNION ALL
            SELECT date_trunc('hour', old_at, 'UTC'), provider, source, kind, sender_domain, recipient_domain, campaign, -1
            FROM firsts WHERE old_at IS NOT NULL
        ), uniques AS (
            INSERT INTO batch_unique_deltas SELECT * FROM deltas RETURNING 1
        )
        UPDATE message_status m SET
            queued_at = least(m.queued_at, a.queued),
            sent_at = least(m.sent_at, a.sent),
            delivered_at = least(m.delivered_at, a.delivered),
            first_deferred_at = least(m.first_deferred_at, a.deferred),
            deferrals = m.deferrals + a.deferrals,
            bounced_at = least(m.bounced_at, a.bounced),
            bounce_class = CASE WHEN a.bounced IS NOT NULL AND (m.bounced_at IS NULL OR a.bounced < m.bounced_at)
                                THEN a.bounce_class ELSE m.bounce_class END,
            rejected_at = least(m.rejected_at, a.rejected),
            failed_at = least(m.failed_at, a.failed),
            first_opened_at = least(m.first_opened_at, a.opened),
            opens = m.opens + a.opens,
            first_clicked_at = least(m.first_clicked_at, a.clicked),
            clicks = m.clicks + a.clicks,
            first_human_opened_at = least(m.first_human_opened_at, a.human_opened),
            human_opens = m.human_opens + a.human_opens,
            first_human_clicked_at = least(m.first_human_clicked_at, a.human_clicked),
            human_clicks = m.human_clicks + a.human_clicks,
            complained_at = least(m.complained_at, a.complained),
            unsubscribed_at = least(m.unsubscribed_at, a.unsubscribed),
            latest_state = CASE WHEN a.latest_at IS NOT NULL AND (m.latest_at IS NULL OR a.latest_at >= m.latest_at)
                                THEN a.latest_state ELSE m.latest_state END,
            latest_at = greatest(m.latest_at, a.latest_at),
            events = m.events + a.events
        FROM agg a
        WHERE m.provider = a.provider AND m.message_id = a.message_id AND m.recipient = a.recipient
        """

    static let engagement: PostgresQuery = """
        INSERT INTO recipient_engagement AS r
            (address, domain, events, delivered, opens, machine_opens, clicks, machine_clicks, first_seen, last_seen,
             last_opened_at, last_clicked_at)
        SELECT recipient, coalesce(max(recipient_domain), ''), count(*),
               count(*) FILTER (WHERE event_type = 'delivered'),
               count(*) FILTER (WHERE event_type = 'opened'),
               count(*) FILTER (WHERE event_type = 'opened' AND machine),
               count(*) FILTER (WHERE event_type = 'clicked'),
               count(*) FILTER (WHERE event_type = 'clicked' AND machine),
               min(occurred_at), max(occurred_at),
               max(occurred_at) FILTER (WHERE event_type = 'opened'),
               max(occurred_at) FILTER (WHERE event_type = 'clicked')
        FROM batch_new WHERE recipient IS NOT NULL
        GROUP BY recipient
        ORDER BY recipient
        ON CONFLICT (address) DO UPDATE SET
            events = r.events + EXCLUDED.events,
            delivered = r.delivered + EXCLUDED.delivered,
            opens = r.opens + EXCLUDED.opens,
            machine_opens = r.machine_opens + EXCLUDED.machine_opens,
            clicks = r.clicks + EXCLUDED.clicks,
            machine_clicks = r.machine_clicks + EXCLUDED.machine_clicks,
            first_seen = least(r.first_seen, EXCLUDED.first_seen),
            last_seen = greatest(r.last_seen, EXCLUDED.last_seen),
            last_opened_at = greatest(r.last_opened_at, EXCLUDED.last_opened_at),
            last_clicked_at = greatest(r.last_clicked_at, EXCLUDED.last_clicked_at)
        """

    /// Complaints, hard bounces and unsubscribes suppress at once; `softBounceLimit` soft bounces
    /// within `softBounceWindowDays` suppress from the bounce that completes the first such window.
    /// A stronger reason replaces a weaker one (complaint > hard bounce > soft bounces >
    /// unsubscribe); of equal ones the first time counts, except that the latest unsubscribe does
    /// (an earlier one may have been lifted). A lifted row is suppressed again by anything later.
    static func suppress(_ policy: AnalyticsPolicy) -> PostgresQuery {
        let detail = "\(policy.softBounceLimit) soft bounces within \(policy.softBounceWindowDays) days"
        return """
            WITH immediate AS (
                SELECT recipient AS address,
                       CASE WHEN event_type = 'complained' THEN 'complaint'
                            WHEN event_type = 'bounced' THEN 'hard_bounce' ELSE 'unsubscribe' END AS reason,
                       occurred_at, provider, source, event_key, detail
                FROM batch_new
                WHERE recipient IS NOT NULL
                  AND (event_type IN ('complained', 'unsubscribed') OR (event_type = 'bounced' AND bounce_class = 'hard'))
            ), soft_addresses AS (
                SELECT DISTINCT recipient AS address FROM batch_new
                WHERE event_type = 'bounced' AND bounce_class = 'soft' AND recipient IS NOT NULL
            ), soft AS (
                SELECT lower(e.recipient) AS address, e.occurred_at, e.provider, e.source, e.event_key,
                       row_number() OVER (PARTITION BY lower(e.recipient) ORDER BY e.occurred_at, e.provider, e.event_key) AS n
                FROM email_events e JOIN soft_addresses a ON lower(e.recipient) = a.address
                WHERE e.event_type = 'bounced' AND e.bounce_class = 'soft'
            ), soft_rule AS (
                SELECT DISTINCT ON (last.address)
                       last.address, 'soft_bounces' AS reason, last.occurred_at, last.provider, last.source, last.event_key,
                       \(detail)::text AS detail
                FROM soft first JOIN soft last ON last.address = first.address AND last.n = first.n + \(policy.softBounceLimit - 1)
                WHERE last.occurred_at <= first.occurred_at + make_interval(days => \(policy.softBounceWindowDays)::int)
                ORDER BY last.address, last.occurred_at
            ), candidates AS (
                SELECT DISTINCT ON (address) * FROM (SELECT * FROM immediate UNION ALL SELECT * FROM soft_rule) c
                ORDER BY address, postwire_suppression_rank(reason) DESC,
                         CASE WHEN reason = 'unsubscribe' THEN -extract(epoch FROM occurred_at) ELSE extract(epoch FROM occurred_at) END
            )
            INSERT INTO suppressions AS s (address, reason, suppressed_at, provider, source, event_key, detail)
            SELECT address, reason, occurred_at, provider, source, event_key, detail FROM candidates ORDER BY address
            ON CONFLICT (address) DO UPDATE SET
                reason = EXCLUDED.reason, suppressed_at = EXCLUDED.suppressed_at, provider = EXCLUDED.provider,
                source = EXCLUDED.source, event_key = EXCLUDED.event_key, detail = EXCLUDED.detail,
                lifted_at = NULL, lifted_by = NULL, updated_at = now()
            WHERE (s.lifted_at IS NOT NULL AND EXCLUDED.suppressed_at > s.lifted_at)
               OR postwire_suppression_rank(EXCLUDED.reason) > postwire_suppression_rank(s.reason)
               OR (EXCLUDED.reason = s.reason
                   AND ((s.reason = 'unsubscribe' AND EXCLUDED.suppressed_at > s.suppressed_at)
                        OR (s.reason <> 'unsubscribe' AND EXCLUDED.suppressed_at < s.suppressed_at)))
            """
    }

    /// A re-subscribe later than an unsubscribe lifts it, from the first such re-subscribe, in
    /// whichever order the two arrive (stored events are consulted, not only this batch's).
    static let liftUnsubscribes: PostgresQuery = """
        WITH touched AS (
            SELECT DISTINCT recipient AS address FROM batch_new
            WHERE recipient IS NOT NULL AND event_type IN ('subscribed', 'unsubscribed')
        ), lifts AS (
            SELECT DISTINCT ON (s.address) s.address, e.occurred_at, e.event_key
            FROM suppressions s
            JOIN touched t ON t.address = s.address
            JOIN email_events e ON lower(e.recipient) = s.address AND e.event_type = 'subscribed' AND e.occurred_at > s.suppressed_at
            WHERE s.reason = 'unsubscribe'
            ORDER BY s.address, e.occurred_at
        )
        UPDATE suppressions s SET lifted_at = l.occurred_at, lifted_by = l.event_key, updated_at = now()
        FROM lifts l
        WHERE s.address = l.address AND s.lifted_at IS DISTINCT FROM l.occurred_at
        """

    /// Unique opens and clicks: the changes ``updateMessages`` found, applied to the shared counters.
    static let uniqueCounts: PostgresQuery = """
        INSERT INTO unique_counts_hourly AS u
            (hour, provider, source, kind, sender_domain, recipient_domain, campaign, count)
        SELECT hour, provider, source, kind, sender_domain, recipient_domain, campaign, sum(delta)
        FROM batch_unique_deltas
        GROUP BY 1, 2, 3, 4, 5, 6, 7
        HAVING sum(delta) <> 0
        ORDER BY 1, 2, 3, 4, 5, 6, 7
        ON CONFLICT (hour, provider, source, kind, sender_domain, recipient_domain, campaign)
        DO UPDATE SET count = u.count + EXCLUDED.count
        """

    /// Last of the derived statements: its rows (one per domain and hour) are the ones concurrent
    /// batches share most, so their locks are held briefly.
    static let domainCounts: PostgresQuery = """
        INSERT INTO domain_counts_hourly AS d (sender_domain, hour, delivered, bounced, complained)
        SELECT sender_domain, date_trunc('hour', occurred_at, 'UTC'),
               count(*) FILTER (WHERE event_type = 'delivered'), count(*) FILTER (WHERE event_type = 'bounced'),
               count(*) FILTER (WHERE event_type = 'complained')
        FROM batch_new
        WHERE coalesce(sender_domain, '') <> '' AND event_type IN ('delivered', 'bounced', 'complained')
        GROUP BY 1, 2
        ORDER BY 1, 2
        ON CONFLICT (sender_domain, hour) DO UPDATE SET
            delivered = d.delivered + EXCLUDED.delivered, bounced = d.bounced + EXCLUDED.bounced,
            complained = d.complained + EXCLUDED.complained
        """

    /// Bounds (ms) of the receive-to-commit histogram; larger delays count in the last bucket.
    static let delayBounds: [Int64] = [
        50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000, 86_400_000,
    ]

    /// Runs for every batch, duplicates included: the pipeline's own work this hour. A delay
    /// counts in the smallest bound at or above it. The bounds are whole milliseconds, so the ones
    /// below a delay are the ones at or below `ceil(ms) - 1`, which `width_bucket` counts by binary
    /// search instead of a subquery over the bounds for every event.
    static func processingStats(received: Int) -> PostgresQuery {
        """
        WITH delays AS (
            SELECT coalesce(b[width_bucket(ceil(extract(epoch FROM now() - received_at) * 1000) - 1, b) + 1],
                            9223372036854775807) AS le_ms
            FROM batch_new, (SELECT \(delayBounds)::int8[] AS b) bounds
        ), histogram AS (
            INSERT INTO processing_delay_hourly AS h (hour, le_ms, count)
            SELECT date_trunc('hour', now(), 'UTC'), le_ms, count(*) FROM delays GROUP BY le_ms ORDER BY le_ms
            ON CONFLICT (hour, le_ms) DO UPDATE SET count = h.count + EXCLUDED.count
            RETURNING 1
        )
        INSERT INTO processing_stats_hourly AS s (hour, received, stored, duplicates)
        SELECT date_trunc('hour', now(), 'UTC'), \(received), count(*), \(received) - count(*) FROM batch_new
        ON CONFLICT (hour) DO UPDATE SET
            received = s.received + EXCLUDED.received, stored = s.stored + EXCLUDED.stored,
            duplicates = s.duplicates + EXCLUDED.duplicates
        """
    }

    /// A sending domain's complaint rate (complained / delivered) or bounce rate (bounced / sent),
    /// from `domain_counts_hourly`, over the `alertWindowHours` ending with the hour of its newest event in the batch, once
    /// above the threshold with at least `alertMinimumVolume` messages, raises an alert, unless one
    /// of the same kind for the domain already covers part of that window.
    static func alerts(_ policy: AnalyticsPolicy) -> PostgresQuery {
        """
        WITH domains AS (
            SELECT sender_domain, date_trunc('hour', max(occurred_at), 'UTC') + interval '1 hour' AS window_end
            FROM batch_new WHERE coalesce(sender_domain, '') <> ''
            GROUP BY sender_domain
        ), totals AS (
            SELECT d.sender_domain, d.window_end - make_interval(hours => \(policy.alertWindowHours)::int) AS window_start, d.window_end,
                   sum(c.delivered)::int8 AS delivered, sum(c.bounced)::int8 AS bounced, sum(c.complained)::int8 AS complained
            FROM domains d
            JOIN domain_counts_hourly c ON c.sender_domain = d.sender_domain
                 AND c.hour >= d.window_end - make_interval(hours => \(policy.alertWindowHours)::int) AND c.hour < d.window_end
            GROUP BY 1, 2, 3
        ), rates AS (
            SELECT sender_domain, window_start, window_end, 'complaint_rate' AS kind, complained AS numerator,
                   delivered AS denominator, \(policy.complaintRateThreshold)::float8 AS threshold
            FROM totals WHERE delivered >= \(policy.alertMinimumVolume)
            UNION ALL
            SELECT sender_domain, window_start, window_end, 'bounce_rate', bounced, delivered + bounced,
                   \(policy.bounceRateThreshold)::float8
            FROM totals WHERE delivered + bounced >= \(policy.alertMinimumVolume)
        )
        INSERT INTO alerts (kind, sender_domain, window_start, window_end, numerator, denominator, rate, threshold)
        SELECT kind, sender_domain, window_start, window_end, numerator, denominator, numerator::float8 / denominator, threshold
        FROM rates r
        WHERE numerator::float8 / denominator > threshold
          AND NOT EXISTS (
              SELECT 1 FROM alerts a WHERE a.sender_domain = r.sender_domain AND a.kind = r.kind AND a.window_end > r.window_start)
        ORDER BY sender_domain, kind
        RETURNING kind, sender_domain, rate, threshold, numerator, denominator
        """
    }
}
