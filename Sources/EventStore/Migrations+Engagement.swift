import EmailEvents

extension Migrations {
    /// Version 6: human and machine engagement apart, and the mailbox-provider dimension
    /// (docs/ANALYTICS.md). Every open and click
    /// carries the worker's verdict (`machine`) and the rule that gave it; the rollups, the message
    /// timelines and the recipients count machines' opens and clicks beside everyone's, and the
    /// first human open and click of each message beside the first of all.
    ///
    /// Rows stored before this version knew only the ESPs' own flag (`is_machine_open`); they are
    /// classified by it, and the counts rebuilt from the events retention kept.
    static let engagement = Step(
        version: 6, name: "engagement: human and machine opens and clicks; mailbox providers",
        statements: [
            "ALTER TABLE email_events ADD COLUMN machine boolean, ADD COLUMN engagement_reason text",
            """
            UPDATE email_events SET machine = coalesce(is_machine_open, false),
                   engagement_reason = CASE WHEN is_machine_open THEN 'esp:is_machine_open' ELSE 'no_machine_signal' END
            WHERE event_type IN ('opened', 'clicked')
            """,
            "ALTER TABLE event_counts_hourly ADD COLUMN machine bigint NOT NULL DEFAULT 0",
            """
            UPDATE event_counts_hourly c SET machine = m.n
            FROM (SELECT date_trunc('hour', occurred_at, 'UTC') AS hour, provider, source, event_type,
                         coalesce(sender_domain, '') AS sender_domain, coalesce(recipient_domain, '') AS recipient_domain,
                         coalesce(campaign, '') AS campaign, count(*) AS n
                  FROM email_events WHERE machine GROUP BY 1, 2, 3, 4, 5, 6, 7) m
            WHERE (c.hour, c.provider, c.source, c.event_type, c.sender_domain, c.recipient_domain, c.campaign)
                = (m.hour, m.provider, m.source, m.event_type, m.sender_domain, m.recipient_domain, m.campaign)
            """,
            """
            ALTER TABLE message_status
                ADD COLUMN first_human_opened_at timestamptz, ADD COLUMN human_opens integer NOT NULL DEFAULT 0,
                ADD COLUMN first_human_clicked_at timestamptz, ADD COLUMN human_clicks integer NOT NULL DEFAULT 0
            """,
            """
            UPDATE message_status m SET first_human_opened_at = h.opened, human_opens = h.opens,
                   first_human_clicked_at = h.clicked, human_clicks = h.clicks
            FROM (SELECT provider, message_id, lower(recipient) AS recipient,
                         min(occurred_at) FILTER (WHERE event_type = 'opened') AS opened,
                         count(*) FILTER (WHERE event_type = 'opened') AS opens,
                         min(occurred_at) FILTER (WHERE event_type = 'clicked') AS clicked,
                         count(*) FILTER (WHERE event_type = 'clicked') AS clicks
                  FROM email_events WHERE machine IS FALSE AND message_id IS NOT NULL GROUP BY 1, 2, 3) h
            WHERE (m.provider, m.message_id, m.recipient) = (h.provider, h.message_id, h.recipient)
            """,
            "ALTER TABLE unique_counts_hourly DROP CONSTRAINT unique_counts_hourly_kind_check",
            """
            ALTER TABLE unique_counts_hourly ADD CONSTRAINT unique_counts_hourly_kind_check
                CHECK (kind IN ('open', 'click', 'human_open', 'human_click'))
            """,
            """
            INSERT INTO unique_counts_hourly (hour, provider, source, kind, sender_domain, recipient_domain, campaign, count)
            SELECT date_trunc('hour', f.at, 'UTC'), provider, source, f.kind, sender_domain, recipient_domain, campaign, count(*)
            FROM message_status
            CROSS JOIN LATERAL (VALUES ('human_open', first_human_opened_at), ('human_click', first_human_clicked_at)) AS f(kind, at)
            WHERE f.at IS NOT NULL
            GROUP BY 1, 2, 3, 4, 5, 6, 7
            """,
            "ALTER TABLE recipient_engagement ADD COLUMN machine_clicks bigint NOT NULL DEFAULT 0",
            // The views gain columns in the middle, so they are made again.
            "DROP VIEW daily_rates",
            "DROP VIEW daily_counts",
            "DROP VIEW recipient_engagement_scores",
            // The built-in rules; `postwire migrate` and the workers install the configured ones.
            EventStore.createMailboxProviderFunction(.standard),
            dailyCounts,
            dailyRates,
            engagementScores,
        ])

    /// Per day and dimension. "sent" is the messages with a delivery outcome: delivered + bounced.
    /// `opens`/`clicks` count every open and click; `human_*` those no rule called a machine's;
    /// `unique_human_*` the messages whose first human open (click) fell on that day.
    static let dailyCounts = """
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
                   sum(machine) FILTER (WHERE event_type = 'opened')::int8 AS machine_opens,
                   sum(count) FILTER (WHERE event_type = 'clicked')::int8 AS clicks,
                   sum(machine) FILTER (WHERE event_type = 'clicked')::int8 AS machine_clicks
            FROM event_counts_hourly GROUP BY 1, 2, 3, 4, 5, 6
        ), uniques AS (
            SELECT (hour AT TIME ZONE 'UTC')::date AS day, provider, source, sender_domain, recipient_domain, campaign,
                   sum(count) FILTER (WHERE kind = 'open')::int8 AS unique_opens,
                   sum(count) FILTER (WHERE kind = 'click')::int8 AS unique_clicks,
                   sum(count) FILTER (WHERE kind = 'human_open')::int8 AS unique_human_opens,
                   sum(count) FILTER (WHERE kind = 'human_click')::int8 AS unique_human_clicks
            FROM unique_counts_hourly GROUP BY 1, 2, 3, 4, 5, 6
        )
        SELECT day, provider, source, sender_domain, recipient_domain,
               postwire_mailbox_provider(recipient_domain) AS mailbox_provider, campaign,
               coalesce(e.delivered, 0) + coalesce(e.bounced, 0) AS sent,
               coalesce(e.delivered, 0) AS delivered, coalesce(e.bounced, 0) AS bounced,
               coalesce(e.deferred, 0) AS deferred, coalesce(e.rejected, 0) AS rejected,
               coalesce(e.complained, 0) AS complained, coalesce(e.unsubscribed, 0) AS unsubscribed,
               coalesce(e.opens, 0) AS opens, coalesce(u.unique_opens, 0) AS unique_opens,
               coalesce(e.clicks, 0) AS clicks, coalesce(u.unique_clicks, 0) AS unique_clicks,
               coalesce(e.opens, 0) - coalesce(e.machine_opens, 0) AS human_opens,
               coalesce(e.machine_opens, 0) AS machine_opens,
               coalesce(u.unique_human_opens, 0) AS unique_human_opens,
               coalesce(e.clicks, 0) - coalesce(e.machine_clicks, 0) AS human_clicks,
               coalesce(e.machine_clicks, 0) AS machine_clicks,
               coalesce(u.unique_human_clicks, 0) AS unique_human_clicks
        FROM events e FULL JOIN uniques u USING (day, provider, source, sender_domain, recipient_domain, campaign)
        """

    static let dailyRates = """
        CREATE VIEW daily_rates AS
        SELECT *,
               delivered::numeric / nullif(sent, 0) AS delivery_rate,
               bounced::numeric / nullif(sent, 0) AS bounce_rate,
               complained::numeric / nullif(delivered, 0) AS complaint_rate,
               unique_opens::numeric / nullif(delivered, 0) AS unique_open_rate,
               unique_clicks::numeric / nullif(delivered, 0) AS unique_click_rate,
               unique_human_opens::numeric / nullif(delivered, 0) AS unique_human_open_rate,
               unique_human_clicks::numeric / nullif(delivered, 0) AS unique_human_click_rate
        FROM daily_counts
        """

    /// Engagement score, 0–100, computed when read so it decays with time: human opens count 1,
    /// human clicks 3; 100·(1 − e^(−points/10)), halved every 30 days since the last open or click.
    static let engagementScores = """
        CREATE VIEW recipient_engagement_scores AS
        SELECT *,
               round((100 * (1 - exp(-((opens - machine_opens) + 3 * (clicks - machine_clicks)) / 10.0))
                     * power(0.5, extract(epoch FROM now() - coalesce(greatest(last_opened_at, last_clicked_at), first_seen))
                             / (30 * 86400)))::numeric, 1) AS score
        FROM recipient_engagement
        """
}
