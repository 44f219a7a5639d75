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
        // Events whose ESP sent no plausible time carry their receive time (EventTime).
        Step(
            version: 4, name: "occurred_at_estimated",
            statements: ["ALTER TABLE email_events ADD COLUMN occurred_at_estimated boolean NOT NULL DEFAULT false"]),
    ]
}
