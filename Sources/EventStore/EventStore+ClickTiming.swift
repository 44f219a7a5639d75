import PostgresNIO

/// The engagement rules that need more than the click itself (docs/ANALYTICS.md): a click within
/// `scannerClickSeconds` of its message's delivery, or one of `clickBurstCount` clicks of a message
/// within `clickBurstSeconds`, is a security scanner's, not a person's.
///
/// Both depend on other events, which may arrive in any order and in other batches, so the verdict
/// is taken again for every click of a message whenever the batch brings it a click, or a delivery
/// while it has clicks: the same set of events gives the same verdicts whatever their order. A
/// verdict that changes for a click stored earlier is a flip: `batch_flips` carries it to the
/// counts that already had it (``applyClickFlipsToMessages``, ``applyClickFlipsToRecipients``, ``hourlyCounts``). Rules
/// of the click alone (the ESP's flag, a user agent, a network) are kept; timing only ever turns a
/// person's click into a machine's.
extension EventStore {
    static func timingEnabled(_ policy: AnalyticsPolicy) -> Bool {
        policy.scannerClickSeconds > 0 || (policy.clickBurstCount > 1 && policy.clickBurstSeconds > 0)
    }

    static func classifyClicks(_ policy: AnalyticsPolicy) -> PostgresQuery {
        let soon =
            policy.scannerClickSeconds > 0
            ? "c.occurred_at >= d.at AND c.occurred_at < d.at + make_interval(secs => \(policy.scannerClickSeconds))" : "false"
        let burstOn = policy.clickBurstCount > 1 && policy.clickBurstSeconds > 0
        let window = "make_interval(secs => \(policy.clickBurstSeconds))"
        return PostgresQuery(
            unsafeSQL: """
                -- MATERIALIZED: the planner knows nothing of the temporary tables' sizes and would
                -- otherwise repeat each of these for every click (measured: 270 ms a batch, not 5).
                WITH affected AS MATERIALIZED (
                    -- Messages with a click in the batch, or a delivery and clicks stored before.
                    SELECT DISTINCT provider, message_id, recipient FROM batch_new
                    WHERE event_type = 'clicked' AND message_id IS NOT NULL AND recipient IS NOT NULL
                    UNION
                    SELECT DISTINCT b.provider, b.message_id, b.recipient FROM batch_new b
                    JOIN message_status m USING (provider, message_id, recipient)
                    WHERE b.event_type = 'delivered' AND m.clicks > 0
                ), delivered AS MATERIALIZED (
                    SELECT a.provider, a.message_id, a.recipient, least(m.delivered_at, n.at) AS at
                    FROM affected a
                    LEFT JOIN message_status m USING (provider, message_id, recipient)
                    LEFT JOIN (SELECT provider, message_id, recipient, min(occurred_at) AS at FROM batch_new
                               WHERE event_type = 'delivered' GROUP BY 1, 2, 3) n USING (provider, message_id, recipient)
                ), clicks AS MATERIALIZED (
                    SELECT e.provider, e.event_key, e.occurred_at, e.message_id, lower(e.recipient) AS recipient, e.machine,
                           e.engagement_reason
                    FROM affected a JOIN email_events e
                         ON e.message_id = a.message_id AND e.provider = a.provider AND lower(e.recipient) = a.recipient
                    WHERE e.event_type = 'clicked'
                ), bursts AS MATERIALIZED (
                    -- Windows of clickBurstSeconds starting at a click that hold clickBurstCount clicks.
                    SELECT s.provider, s.message_id, s.recipient, s.occurred_at AS start
                    FROM clicks s JOIN clicks o
                         ON o.provider = s.provider AND o.message_id = s.message_id AND o.recipient = s.recipient
                        AND o.occurred_at >= s.occurred_at AND o.occurred_at <= s.occurred_at + \(window)
                    WHERE \(burstOn)
                    GROUP BY 1, 2, 3, 4 HAVING count(*) >= \(policy.clickBurstCount)
                ), verdicts AS MATERIALIZED (
                    SELECT c.provider, c.event_key, c.occurred_at, coalesce(c.machine, false) AS was,
                           CASE WHEN coalesce(c.engagement_reason, 'no_machine_signal') NOT IN ('no_machine_signal',
                                     'timing:soon_after_delivery', 'timing:click_burst') THEN c.engagement_reason
                                WHEN \(soon) THEN 'timing:soon_after_delivery'
                                WHEN EXISTS (SELECT 1 FROM bursts w WHERE w.provider = c.provider AND w.message_id = c.message_id
                                             AND w.recipient = c.recipient AND c.occurred_at >= w.start
                                             AND c.occurred_at <= w.start + \(window)) THEN 'timing:click_burst'
                                ELSE 'no_machine_signal' END AS reason
                    FROM clicks c LEFT JOIN delivered d USING (provider, message_id, recipient)
                ), changed AS (
                    UPDATE email_events e SET machine = v.reason <> 'no_machine_signal', engagement_reason = v.reason
                    FROM verdicts v
                    WHERE e.provider = v.provider AND e.event_key = v.event_key AND e.occurred_at = v.occurred_at
                      AND e.engagement_reason IS DISTINCT FROM v.reason
                    RETURNING e.provider, e.event_key, e.occurred_at, e.machine, v.was, e.source, e.sender_domain, e.recipient_domain,
                              e.campaign, lower(e.recipient) AS recipient, e.message_id
                ), renewed AS (
                    -- This batch's own clicks: the counters after read them with their final verdict.
                    UPDATE batch_new b SET machine = c.machine FROM changed c
                    WHERE b.provider = c.provider AND b.event_key = c.event_key
                    RETURNING b.provider, b.event_key
                )
                -- Flips: clicks stored earlier (`counted`: every counter had them), and this batch's
                -- clicks of the messages it created (their rows, made before this, had them as people's).
                INSERT INTO batch_flips
                SELECT date_trunc('hour', c.occurred_at, 'UTC'), c.provider, c.source, coalesce(c.sender_domain, ''),
                       coalesce(c.recipient_domain, ''), coalesce(c.campaign, ''), c.recipient, c.message_id,
                       CASE WHEN c.machine THEN 1 ELSE -1 END, r.event_key IS NULL
                FROM changed c LEFT JOIN renewed r ON r.provider = c.provider AND r.event_key = c.event_key
                WHERE c.machine <> c.was
                  AND (r.event_key IS NULL OR EXISTS (
                       SELECT 1 FROM batch_created k
                       WHERE k.provider = c.provider AND k.message_id = c.message_id AND k.recipient = c.recipient))
                """)
    }

    /// Flipped clicks of messages that existed before this batch or were made by it before the
    /// verdict: their message's human clicks, and its first human click again from the stored
    /// clicks (and the unique human click it counts, moved with it).
    static let applyClickFlipsToMessages: PostgresQuery = """
        WITH flips AS (
            SELECT provider, message_id, recipient, sum(delta) AS delta FROM batch_flips
            WHERE message_id IS NOT NULL AND recipient IS NOT NULL GROUP BY 1, 2, 3
        ), firsts AS (
            SELECT f.provider, f.message_id, f.recipient, f.delta,
                   (SELECT min(e.occurred_at) FROM email_events e
                    WHERE e.message_id = f.message_id AND e.provider = f.provider AND lower(e.recipient) = f.recipient
                      AND e.event_type = 'clicked' AND NOT e.machine) AS first
            FROM flips f
        ), moved AS (
            SELECT m.provider, m.source, m.sender_domain, m.recipient_domain, m.campaign, m.first_human_clicked_at AS old_at,
                   f.first AS new_at
            FROM firsts f JOIN message_status m USING (provider, message_id, recipient)
            WHERE m.first_human_clicked_at IS DISTINCT FROM f.first
        ), uniques AS (
            INSERT INTO batch_unique_deltas
            SELECT date_trunc('hour', new_at, 'UTC'), provider, source, 'human_click', sender_domain, recipient_domain, campaign, 1
            FROM moved WHERE new_at IS NOT NULL
            UNION ALL
            SELECT date_trunc('hour', old_at, 'UTC'), provider, source, 'human_click', sender_domain, recipient_domain, campaign, -1
            FROM moved WHERE old_at IS NOT NULL
            RETURNING 1
        )
        UPDATE message_status m SET human_clicks = m.human_clicks - f.delta, first_human_clicked_at = f.first
        FROM firsts f
        WHERE m.provider = f.provider AND m.message_id = f.message_id AND m.recipient = f.recipient
        """

    /// Flipped clicks stored before this batch, in the recipients' machine clicks. (The hourly
    /// machine counts take them in ``hourlyCounts``, in its key order.) The rows are this batch's
    /// recipients', locked by ``engagement`` already.
    static let applyClickFlipsToRecipients: PostgresQuery = """
        UPDATE recipient_engagement r SET machine_clicks = r.machine_clicks + f.delta
        FROM (SELECT recipient, sum(delta) AS delta FROM batch_flips WHERE counted AND recipient IS NOT NULL GROUP BY 1) f
        WHERE r.address = f.recipient
        """
}
