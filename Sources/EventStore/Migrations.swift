/// The schema, as numbered steps. A step never changes once released; add a new one instead.
/// Each step runs in its own transaction and is recorded in `postwire_migrations`.
enum Migrations {
    struct Step {
        var version: Int
        var name: String
        var statements: [String]
    }

    static let all: [Step] = [
        Step(
            version: 1, name: "events and hourly counts",
            statements: [
                """
                CREATE TABLE email_events (
                    provider          text        NOT NULL,
                    event_key         text        NOT NULL,
                    source            text        NOT NULL,
                    event_type        text        NOT NULL,
                    esp_event         text        NOT NULL,
                    delivery_id       text,
                    occurred_at       timestamptz NOT NULL,
                    received_at       timestamptz NOT NULL,
                    stored_at         timestamptz NOT NULL DEFAULT now(),
                    message_id        text,
                    rfc_message_id    text,
                    recipient         text,
                    recipient_domain  text,
                    sender            text,
                    sender_domain     text,
                    bounce_class      text,
                    reject_reason     text,
                    smtp_code         integer,
                    enhanced_status   text,
                    mta_response      text,
                    description       text,
                    tags              jsonb       NOT NULL DEFAULT '[]',
                    metadata          jsonb       NOT NULL DEFAULT '{}',
                    campaign          text,
                    click_url         text,
                    user_agent        text,
                    ip                text,
                    is_first          boolean,
                    is_machine_open   boolean,
                    raw               jsonb       NOT NULL,
                    PRIMARY KEY (provider, event_key)
                )
                """,
                "CREATE INDEX email_events_occurred_at ON email_events (occurred_at)",
                "CREATE INDEX email_events_message_id ON email_events (message_id)",
                "CREATE INDEX email_events_recipient ON email_events (recipient)",
                // Dimensions are '' rather than NULL so that the primary key can hold them.
                """
                CREATE TABLE event_counts_hourly (
                    hour              timestamptz NOT NULL,
                    provider          text        NOT NULL,
                    source            text        NOT NULL,
                    event_type        text        NOT NULL,
                    sender_domain     text        NOT NULL DEFAULT '',
                    recipient_domain  text        NOT NULL DEFAULT '',
                    campaign          text        NOT NULL DEFAULT '',
                    count             bigint      NOT NULL,
                    PRIMARY KEY (hour, provider, source, event_type, sender_domain, recipient_domain, campaign)
                )
                """,
            ]),
        // `postwire status` reports the events stored in the last hour.
        Step(
            version: 2, name: "index on stored_at",
            statements: ["CREATE INDEX email_events_stored_at ON email_events (stored_at)"]),
        analytics,
        // Events whose ESP sent no plausible time carry their receive time (EventTime). Partitions
        // made by two workers at once: the second one's CREATE found the first one's table
        // (42P07), because a function's catalog lookups do not see what committed while it waited
        // for the advisory lock; a partition that exists by then is now simply skipped.
        Step(
            version: 4, name: "occurred_at_estimated; race-free partitions",
            statements: [
                "ALTER TABLE email_events ADD COLUMN occurred_at_estimated boolean NOT NULL DEFAULT false",
                ensurePartitionsRaceFree,
            ]),
        outbound,
        engagement,
    ]

    static let ensurePartitionsRaceFree = """
        CREATE OR REPLACE FUNCTION postwire_ensure_partitions(start timestamptz, months integer, parent text DEFAULT 'email_events')
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
                BEGIN
                    EXECUTE format('CREATE TABLE %I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name, parent);
                EXCEPTION WHEN duplicate_table THEN
                    CONTINUE;  -- made by another session while this one waited for the lock
                END;
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
        """
}
