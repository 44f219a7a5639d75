/// The JSON a delivery carries (docs/DELIVERY.md, docs/webhook-payload.schema.json), built by
/// PostgreSQL from the stored event when the dispatcher claims the delivery, so the payload is
/// the normalized event exactly as stored and the outbox row stays narrow:
///
///     {"type": "email.bounced", "timestamp": "2026-12-02T10:00:00.000000Z", "data": {…}}
///
/// `data` leaves out what the event does not have (no `null`s). `id` is the event's identity
/// (`evt_` and 32 hex digits of SHA-256 over provider and event key): the same in every attempt,
/// every replay and at every endpoint, and the request's `webhook-id` when it carries one event.
enum WebhookPayload {
    /// `data`'s keys and the SQL over `email_events e` that gives each.
    static let fields: [(key: String, sql: String)] = [
        ("id", eventID("e")), ("provider", "e.provider"), ("source", "e.source"), ("type", "e.event_type"),
        ("esp_event", "e.esp_event"), ("event_key", "e.event_key"), ("occurred_at", time("e.occurred_at")),
        ("occurred_at_estimated", "e.occurred_at_estimated"), ("received_at", time("e.received_at")),
        ("message_id", "e.message_id"), ("rfc_message_id", "e.rfc_message_id"), ("delivery_id", "e.delivery_id"),
        ("recipient", "e.recipient"), ("recipient_domain", "e.recipient_domain"), ("sender", "e.sender"),
        ("sender_domain", "e.sender_domain"), ("bounce_class", "e.bounce_class"), ("reject_reason", "e.reject_reason"),
        ("smtp_code", "e.smtp_code"), ("enhanced_status", "e.enhanced_status"), ("mta_response", "e.mta_response"),
        ("description", "e.description"), ("tags", "e.tags"), ("metadata", "e.metadata"), ("campaign", "e.campaign"),
        ("click_url", "e.click_url"), ("user_agent", "e.user_agent"), ("ip", "e.ip"), ("is_first", "e.is_first"),
        ("is_machine_open", "e.is_machine_open"),
    ]

    /// The whole payload as text, over `email_events e`, NULL when `e` is missing.
    static let sql: String = {
        let data = fields.map { "'\($0.key)', \($0.sql)" }.joined(separator: ", ")
        // NULL when the event is not there (the LEFT JOIN found nothing), not an object of NULLs.
        return """
            CASE WHEN e.event_key IS NOT NULL THEN
                jsonb_build_object('type', 'email.' || e.event_type, 'timestamp', \(time("e.occurred_at")),
                    'data', jsonb_strip_nulls(jsonb_build_object(\(data))))::text
            END
            """
    }()

    /// `evt_…` of the event in `table` (which has `provider` and `event_key`).
    static func eventID(_ table: String) -> String {
        "'evt_' || left(encode(sha256(convert_to(\(table).provider || ':' || \(table).event_key, 'UTF8')), 'hex'), 32)"
    }

    /// RFC 3339 in UTC with microseconds, as every time in the payload.
    static func time(_ column: String) -> String {
        "to_char(\(column) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    }
}
