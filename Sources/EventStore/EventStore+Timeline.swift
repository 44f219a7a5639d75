import Foundation
import PostgresNIO

/// What `postwire timeline` shows: a message's life or an address's history, as JSON objects
/// built by PostgreSQL (times in UTC, ISO 8601), so the table and `--format json` read one thing.
public struct Timeline: Sendable {
    /// `message_status` rows: one per message and recipient.
    public var messages: [[String: any Sendable]]
    /// The message's events in the order they happened (message queries only), at most `limit`.
    public var events: [[String: any Sendable]]
    /// The address's suppression row and engagement row (address queries only).
    public var suppression: [String: any Sendable]?
    public var engagement: [String: any Sendable]?
    /// More events (or messages) than `limit` exist.
    public var truncated: Bool
}

extension EventStore {
    /// A timestamptz column as `2026-10-09T03:57:00.000000Z`, whatever the session's time zone.
    static func utc(_ column: String) -> String {
        "to_char(\(column) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    }

    static let timelineMessageJSON = """
        jsonb_build_object(
            'provider', provider, 'message_id', message_id, 'recipient', recipient, 'source', source,
            'sender_domain', sender_domain, 'recipient_domain', recipient_domain,
            'mailbox_provider', postwire_mailbox_provider(recipient_domain), 'campaign', campaign,
            'state', latest_state, 'state_at', \(utc("latest_at")), 'queued_at', \(utc("queued_at")),
            'sent_at', \(utc("sent_at")), 'delivered_at', \(utc("delivered_at")),
            'first_deferred_at', \(utc("first_deferred_at")), 'deferrals', deferrals,
            'bounced_at', \(utc("bounced_at")), 'bounce_class', bounce_class, 'rejected_at', \(utc("rejected_at")),
            'failed_at', \(utc("failed_at")), 'first_opened_at', \(utc("first_opened_at")), 'opens', opens,
            'human_opens', human_opens, 'first_clicked_at', \(utc("first_clicked_at")), 'clicks', clicks,
            'human_clicks', human_clicks, 'complained_at', \(utc("complained_at")),
            'unsubscribed_at', \(utc("unsubscribed_at")), 'events', events)::text
        """

    static let timelineEventJSON = """
        jsonb_build_object(
            'at', \(utc("occurred_at")), 'estimated_time', occurred_at_estimated, 'type', event_type,
            'esp_event', esp_event, 'provider', provider, 'source', source, 'event_key', event_key,
            'recipient', lower(recipient), 'bounce_class', bounce_class, 'smtp_code', smtp_code,
            'enhanced_status', enhanced_status, 'detail', coalesce(description, mta_response),
            'click_url', click_url, 'machine', machine, 'engagement_reason', engagement_reason)::text
        """

    /// Every recipient's row of the ESP message `id` (of any provider), and its events in order.
    public func timeline(messageId id: String, limit: Int = 1000) async throws(EventStoreError) -> Timeline {
        let limit = max(1, limit)
        do {
            let messages = try await jsonRows(
                "SELECT \(unescaped: Self.timelineMessageJSON) FROM message_status WHERE message_id = \(id) ORDER BY provider, recipient")
            let events = try await jsonRows(
                """
                SELECT \(unescaped: Self.timelineEventJSON) FROM email_events WHERE message_id = \(id)
                ORDER BY occurred_at, provider, event_key LIMIT \(limit + 1)
                """)
            return Timeline(
                messages: messages, events: Array(events.prefix(limit)), suppression: nil, engagement: nil, truncated: events.count > limit)
        } catch {
            throw EventStoreError.from(error)
        }
    }

    /// The address's messages (newest first, at most `limit`), its suppression and engagement.
    public func timeline(address: String, limit: Int = 50) async throws(EventStoreError) -> Timeline {
        let address = address.trimmingCharacters(in: .whitespaces).lowercased()
        let limit = max(1, limit)
        do {
            let messages = try await jsonRows(
                """
                SELECT \(unescaped: Self.timelineMessageJSON) FROM message_status WHERE recipient = \(address)
                ORDER BY latest_at DESC NULLS LAST, provider, message_id LIMIT \(limit + 1)
                """)
            let suppression = try await jsonRows(
                """
                SELECT jsonb_build_object('reason', reason, 'since', \(unescaped: Self.utc("suppressed_at")), 'provider', provider,
                       'source', source, 'event_key', event_key, 'detail', detail, 'lifted_at', \(unescaped: Self.utc("lifted_at")),
                       'lifted_by', lifted_by)::text
                FROM suppressions WHERE address = \(address)
                """
            ).first
            let engagement = try await jsonRows(
                """
                SELECT jsonb_build_object('events', events, 'delivered', delivered, 'opens', opens, 'machine_opens', machine_opens,
                       'clicks', clicks, 'machine_clicks', machine_clicks, 'first_seen', \(unescaped: Self.utc("first_seen")),
                       'last_seen', \(unescaped: Self.utc("last_seen")), 'last_opened_at', \(unescaped: Self.utc("last_opened_at")),
                       'last_clicked_at', \(unescaped: Self.utc("last_clicked_at")), 'score', score,
                       'mailbox_provider', postwire_mailbox_provider(domain))::text
                FROM recipient_engagement_scores WHERE address = \(address)
                """
            ).first
            return Timeline(
                messages: Array(messages.prefix(limit)), events: [], suppression: suppression, engagement: engagement,
                truncated: messages.count > limit)
        } catch {
            throw EventStoreError.from(error)
        }
    }

    private func jsonRows(_ query: PostgresQuery) async throws -> [[String: any Sendable]] {
        var result: [[String: any Sendable]] = []
        for try await text in try await client.query(query, logger: logger).decode(String.self) {
            guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { continue }
            result.append(object.compactMapValues { Self.sendable($0) })
        }
        return result
    }

    /// JSON values as plain Swift values (numbers as Int64 or Double, NSNull as nil).
    static func sendable(_ value: Any) -> (any Sendable)? {
        if value is NSNull { return nil }
        if let text = value as? String { return text }
        guard let number = value as? NSNumber else { return "\(value)" }
        if String(cString: number.objCType) == "c" { return number.boolValue }
        let double = number.doubleValue
        return double == double.rounded() && abs(double) < 1e15 ? number.int64Value : double
    }
}
