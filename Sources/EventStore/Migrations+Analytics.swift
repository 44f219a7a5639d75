extension Migrations {
    /// Version 3: the analysts' database (docs/ANALYTICS.md). `email_events` becomes partitioned by
    /// month of `occurred_at` (retention drops whole partitions), with event-key deduplication
    /// moved to `event_keys` because a partitioned table's unique key must include the partition
    /// key; rollups, suppressions, engagement, message timelines, processing statistics, alerts,
    /// the daily views. (The read-only analyst role is granted after every migration, by
    /// `EventStore.grantAnalystRole`, because creating a role needs a privilege the owner may lack.)
    static let analytics = Step(
        version: 3, name: "analytics: partitions, suppressions, engagement, timelines, stats, alerts, views, analyst role",
        statements: [
            // Deduplication: one row per event ever stored (until retention removes it).
            """
            CREATE TABLE event_keys (
                provider     text        NOT NULL,
                event_key    text        NOT NULL,
                occurred_at  timestamptz NOT NULL,
                PRIMARY KEY (provider, event_key)
            )
            """,
            "INSERT INTO event_keys SELECT provider, event_key, occurred_at FROM email_events",
            """
            CREATE TABLE email_events_partitioned (LIKE email_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
                PARTITION BY RANGE (occurred_at)
            """,
            "ALTER TABLE email_events_partitioned ADD PRIMARY KEY (provider, event_key, occurred_at)",
            "CREATE TABLE email_events_default PARTITION OF email_events_partitioned DEFAULT",
            // (`parent` is text, not regclass: a regclass default would make the function depend on the table.)
            // Creates the monthly partitions `email_events_yYYYYmMM` of `months` months from the
            // month of `start`. Rows of such a month already in the default partition (events that
            // arrived before their partition existed) are moved into it, so it can be attached.
            """
            CREATE FUNCTION postwire_ensure_partitions(start timestamptz, months integer, parent text DEFAULT 'email_events')
            RETURNS integer LANGUAGE plpgsql AS $$
            DECLARE
                first_month timestamptz := date_trunc('month', start, 'UTC');
                lower_bound timestamptz;
                upper_bound timestamptz;
                name text;
                created integer := 0;
                default_partition regclass;
            BEGIN
                SELECT i.inhrelid::regclass INTO default_partition FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = parent::regclass AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT';
                FOR i IN 0 .. months - 1 LOOP
                    lower_bound := (first_month AT TIME ZONE 'UTC' + make_interval(months => i)) AT TIME ZONE 'UTC';
                    upper_bound := (first_month AT TIME ZONE 'UTC' + make_interval(months => i + 1)) AT TIME ZONE 'UTC';
                    name := 'email_events_y' || to_char(lower_bound AT TIME ZONE 'UTC', 'YYYY') || 'm'
                        || to_char(lower_bound AT TIME ZONE 'UTC', 'MM');
                    CONTINUE WHEN to_regclass(name) IS NOT NULL;
                    PERFORM pg_advisory_xact_lock(hashtext('postwire_partitions'));
                    CONTINUE WHEN to_regclass(name) IS NOT NULL;
                    EXECUTE format('CREATE TABLE %I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name, parent);
                    IF default_partition IS NOT NULL THEN
                        EXECUTE format('WITH moved AS (DELETE FROM %s WHERE occurred_at >= %L AND occurred_at < %L RETURNING *) '
                            'INSERT INTO %I SELECT * FROM moved', default_partition, lower_bound, upper_bound, name);
                    END IF;
                    EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                        parent, name, lower_bound, upper_bound);
                    created := created + 1;
                END LOOP;
                RETURN created;
            END
            $$
            """,
            // Partitions for the months the existing events span (none if there are none).
            """
            SELECT postwire_ensure_partitions(
                min(occurred_at),
                ((extract(year FROM max(occurred_at) AT TIME ZONE 'UTC') * 12 + extract(month FROM max(occurred_at) AT TIME ZONE 'UTC'))
                 - (extract(year FROM min(occurred_at) AT TIME ZONE 'UTC') * 12 + extract(month FROM min(occurred_at) AT TIME ZONE 'UTC'))
                 + 1)::integer,
                'email_events_partitioned')
            FROM email_events HAVING count(*) > 0
            """,
            "INSERT INTO email_events_partitioned SELECT * FROM email_events",
            "DROP TABLE email_events",
            "ALTER TABLE email_events_partitioned RENAME TO email_events",
            "CREATE INDEX email_events_occurred_at ON email_events (occurred_at)",
            "CREATE INDEX email_events_message_id ON email_events (message_id)",
            "CREATE INDEX email_events_recipient ON email_events (lower(recipient))",
            "CREATE INDEX email_events_stored_at ON email_events (stored_at)",
            """
            CREATE INDEX email_events_soft_bounces ON email_events (lower(recipient), occurred_at)
                WHERE event_type = 'bounced' AND bounce_class = 'soft'
            """,
            "SELECT postwire_ensure_partitions(now() - interval '1 month', 4)",

            // Rollups. event_counts_hourly exists (version 1); alerts read it by sending domain.
            // What the alerts read: per sending domain and hour, a few rows per window instead of
            // every dimension of event_counts_hourly.
            """
            CREATE TABLE domain_counts_hourly (
                sender_domain     text        NOT NULL,
                hour              timestamptz NOT NULL,
                delivered         bigint      NOT NULL DEFAULT 0,
                bounced           bigint      NOT NULL DEFAULT 0,
                complained        bigint      NOT NULL DEFAULT 0,
                PRIMARY KEY (sender_domain, hour)
            )
            """,
            """
            INSERT INTO domain_counts_hourly (sender_domain, hour, delivered, bounced, complained)
            SELECT sender_domain, hour, coalesce(sum(count) FILTER (WHERE event_type = 'delivered'), 0),
                   coalesce(sum(count) FILTER (WHERE event_type = 'bounced'), 0),
                   coalesce(sum(count) FILTER (WHERE event_type = 'complained'), 0)
            FROM event_counts_hourly WHERE sender_domain <> '' AND event_type IN ('delivered', 'bounced', 'complained')
            GROUP BY sender_domain, hour
            """,
            """
            CREATE TABLE unique_counts_hourly (
                hour              timestamptz NOT NULL,
                provider          text        NOT NULL,
                source            text        NOT NULL,
                kind              text        NOT NULL CHECK (kind IN ('open', 'click')),
                sender_domain     text        NOT NULL DEFAULT '',
                recipient_domain  text        NOT NULL DEFAULT '',
                campaign          text        NOT NULL DEFAULT '',
                count             bigint      NOT NULL,
                PRIMARY KEY (hour, provider, source, kind, sender_domain, recipient_domain, campaign)
            )
            """,

            // One row per ESP message and recipient: its timeline.
            """
            CREATE TABLE message_status (
                provider          text        NOT NULL,
                message_id        text        NOT NULL,
                recipient         text        NOT NULL,
                source            text        NOT NULL,
                sender_domain     text        NOT NULL DEFAULT '',
                recipient_domain  text        NOT NULL DEFAULT '',
                campaign          text        NOT NULL DEFAULT '',
                queued_at         timestamptz,
                sent_at           timestamptz,
                delivered_at      timestamptz,
                first_deferred_at timestamptz,
                deferrals         integer     NOT NULL DEFAULT 0,
                bounced_at        timestamptz,
                bounce_class      text,
                rejected_at       timestamptz,
                failed_at         timestamptz,
                first_opened_at   timestamptz,
                opens             integer     NOT NULL DEFAULT 0,
                first_clicked_at  timestamptz,
                clicks            integer     NOT NULL DEFAULT 0,
                complained_at     timestamptz,
                unsubscribed_at   timestamptz,
                latest_state      text,
                latest_at         timestamptz,
                events            integer     NOT NULL DEFAULT 0,
                PRIMARY KEY (provider, message_id, recipient)
            )
            """,
            "CREATE INDEX message_status_message_id ON message_status (message_id)",
            "CREATE INDEX message_status_recipient ON message_status (recipient)",

            // One row per recipient address (lower case).
            """
            CREATE TABLE recipient_engagement (
                address           text        PRIMARY KEY,
                domain            text        NOT NULL DEFAULT '',
                events            bigint      NOT NULL DEFAULT 0,
                delivered         bigint      NOT NULL DEFAULT 0,
                opens             bigint      NOT NULL DEFAULT 0,
                machine_opens     bigint      NOT NULL DEFAULT 0,
                clicks            bigint      NOT NULL DEFAULT 0,
                first_seen        timestamptz NOT NULL,
                last_seen         timestamptz NOT NULL,
                last_opened_at    timestamptz,
                last_clicked_at   timestamptz
            )
            """,

            // Addresses not to mail. One row per address; `lifted_at` set when a re-subscribe
            // lifted an unsubscribe. Reasons by strength: complaint > hard_bounce > soft_bounces >
            // unsubscribe.
            """
            CREATE TABLE suppressions (
                address           text        PRIMARY KEY,
                reason            text        NOT NULL CHECK (reason IN ('complaint', 'hard_bounce', 'soft_bounces', 'unsubscribe')),
                suppressed_at     timestamptz NOT NULL,
                provider          text        NOT NULL,
                source            text        NOT NULL,
                event_key         text        NOT NULL,
                detail            text,
                lifted_at         timestamptz,
                lifted_by         text,
                updated_at        timestamptz NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE FUNCTION postwire_suppression_rank(reason text) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
                SELECT CASE reason WHEN 'complaint' THEN 4 WHEN 'hard_bounce' THEN 3 WHEN 'soft_bounces' THEN 2 ELSE 1 END
            $$
            """,

            // The pipeline's own numbers per hour of commit.
            """
            CREATE TABLE processing_stats_hourly (
                hour              timestamptz PRIMARY KEY,
                received          bigint      NOT NULL DEFAULT 0,
                stored            bigint      NOT NULL DEFAULT 0,
                duplicates        bigint      NOT NULL DEFAULT 0,
                dead_lettered     bigint      NOT NULL DEFAULT 0
            )
            """,
            // Receive-to-commit delay as a histogram: events whose delay was at most `le_ms`
            // (and more than the next smaller bound); the view turns it into percentiles.
            """
            CREATE TABLE processing_delay_hourly (
                hour              timestamptz NOT NULL,
                le_ms             bigint      NOT NULL,
                count             bigint      NOT NULL,
                PRIMARY KEY (hour, le_ms)
            )
            """,

            """
            CREATE TABLE alerts (
                id                bigserial   PRIMARY KEY,
                kind              text        NOT NULL CHECK (kind IN ('complaint_rate', 'bounce_rate')),
                sender_domain     text        NOT NULL,
                window_start      timestamptz NOT NULL,
                window_end        timestamptz NOT NULL,
                numerator         bigint      NOT NULL,
                denominator       bigint      NOT NULL,
                rate              double precision NOT NULL,
                threshold         double precision NOT NULL,
                raised_at         timestamptz NOT NULL DEFAULT now()
            )
            """,
            "CREATE INDEX alerts_domain ON alerts (sender_domain, kind, window_end)",

            // Views for analysts. "sent" is the messages with a delivery outcome: delivered + bounced.
            """
            CREATE VIEW daily_counts AS
            WITH events AS (
                SELECT (hour AT TIME ZONE 'UTC')::date AS day, provider, source, sender_domain, recipient_domain, campaign,
                       sum(count) FILTER (WHERE event_type = 'delivered')::int8 AS delivered,
                       sum(count) FILTER (WHERE event_type = 'bounced')::int8 AS bounced,
                       sum(count) FILTER (WHERE event_type = 'deferred')::int8 AS deferred,
                       sum(count) FILTER (WHERE event_type = 'rejected')::int8 AS rejected,
                       sum(count) FILTER (WHERE event_type = 'complained')::int8 AS complained,
                       sum(count) FILTER (WHERE event_type = 'unsubscribed')::int8 AS unsubscribed,
                       sum(count) FILTER (WHERE event_type = 'opened')::int8 AS opens,
                       sum(count) FILTER (WHERE event_type = 'clicked')::int8 AS clicks
                FROM event_counts_hourly GROUP BY 1, 2, 3, 4, 5, 6
            ), uniques AS (
                SELECT (hour AT TIME ZONE 'UTC')::date AS day, provider, source, sender_domain, recipient_domain, campaign,
                       sum(count) FILTER (WHERE kind = 'open')::int8 AS unique_opens,
                       sum(count) FILTER (WHERE kind = 'click')::int8 AS unique_clicks
                FROM unique_counts_hourly GROUP BY 1, 2, 3, 4, 5, 6
            )
            SELECT day, provider, source, sender_domain, recipient_domain, campaign,
                   coalesce(e.delivered, 0) + coalesce(e.bounced, 0) AS sent,
                   coalesce(e.delivered, 0) AS delivered, coalesce(e.bounced, 0) AS bounced,
                   coalesce(e.deferred, 0) AS deferred, coalesce(e.rejected, 0) AS rejected,
                   coalesce(e.complained, 0) AS complained, coalesce(e.unsubscribed, 0) AS unsubscribed,
                   coalesce(e.opens, 0) AS opens, coalesce(u.unique_opens, 0) AS unique_opens,
                   coalesce(e.clicks, 0) AS clicks, coalesce(u.unique_clicks, 0) AS unique_clicks
            FROM events e FULL JOIN uniques u USING (day, provider, source, sender_domain, recipient_domain, campaign)
            """,
            """
            CREATE VIEW daily_rates AS
            SELECT *,
                   delivered::numeric / nullif(sent, 0) AS delivery_rate,
                   bounced::numeric / nullif(sent, 0) AS bounce_rate,
                   complained::numeric / nullif(delivered, 0) AS complaint_rate,
                   unique_opens::numeric / nullif(delivered, 0) AS unique_open_rate,
                   unique_clicks::numeric / nullif(delivered, 0) AS unique_click_rate
            FROM daily_counts
            """,
            // Engagement score, 0–100, computed when read so it decays with time: human opens count
            // 1, clicks 3; 100·(1 − e^(−points/10)), halved every 30 days since the last open or click.
            """
            CREATE VIEW recipient_engagement_scores AS
            SELECT *,
                   round((100 * (1 - exp(-((opens - machine_opens) + 3 * clicks) / 10.0))
                         * power(0.5, extract(epoch FROM now() - coalesce(greatest(last_opened_at, last_clicked_at), first_seen))
                                 / (30 * 86400)))::numeric, 1) AS score
            FROM recipient_engagement
            """,
            """
            CREATE VIEW active_suppressions AS
            SELECT address, reason, suppressed_at, provider, source, event_key, detail
            FROM suppressions WHERE lifted_at IS NULL
            """,
            """
            CREATE VIEW processing_stats AS
            WITH delays AS (
                SELECT hour, le_ms, sum(count) OVER (PARTITION BY hour ORDER BY le_ms) AS cumulative,
                       sum(count) OVER (PARTITION BY hour) AS total
                FROM processing_delay_hourly
            ), percentiles AS (
                SELECT hour,
                       min(le_ms) FILTER (WHERE cumulative >= 0.50 * total) AS delay_p50_ms,
                       min(le_ms) FILTER (WHERE cumulative >= 0.95 * total) AS delay_p95_ms,
                       min(le_ms) FILTER (WHERE cumulative >= 0.99 * total) AS delay_p99_ms
                FROM delays GROUP BY hour
            )
            SELECT s.hour, s.received, s.stored, s.duplicates, s.dead_lettered,
                   p.delay_p50_ms, p.delay_p95_ms, p.delay_p99_ms
            FROM processing_stats_hourly s LEFT JOIN percentiles p USING (hour)
            """,
        ])
}
