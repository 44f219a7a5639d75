import EmailEvents
import Foundation
import PostgresNIO

/// The outcome of one batch write.
public struct BatchWriteResult: Sendable, Equatable {
    /// Events that were new and are now stored and counted.
    public var stored: Int
    /// Events whose key was already stored (ESP retry, redelivery, replay): counted before.
    public var duplicates: Int

    public init(stored: Int, duplicates: Int) {
        self.stored = stored
        self.duplicates = duplicates
    }
}

extension EventStore {
    /// Records a batch exactly once (DESIGN.md guarantee 3).
    ///
    /// One statement, hence one transaction: the events are inserted with
    /// `ON CONFLICT DO NOTHING RETURNING`, and only the rows that came back (the new ones) are added
    /// to the rollups. A redelivered or replayed event inserts nothing and so counts nothing.
    /// Events are inserted, and rollup rows (pre-aggregated per key) upserted, in key order, so two
    /// batches committing at once wait for each other rather than deadlock, and no rollup key is
    /// touched twice in one statement. Columns travel as arrays
    /// (`unnest`): a 1,000-event batch is one round trip and 30 binds, not 1,000 statements.
    /// PostgresNIO cannot bind arrays of optionals, so absent values travel as `''` and become
    /// NULL through `nullif`.
    public func write(_ events: [EmailEvent]) async throws(EventStoreError) -> BatchWriteResult {
        guard !events.isEmpty else { return BatchWriteResult(stored: 0, duplicates: 0) }
        let c = BatchColumns(events)
        let query: PostgresQuery = """
            WITH input AS (
                SELECT * FROM unnest(
                    \(c.provider)::text[], \(c.eventKey)::text[], \(c.source)::text[], \(c.eventType)::text[],
                    \(c.espEvent)::text[], \(c.deliveryId)::text[], \(c.occurredAt)::timestamptz[],
                    \(c.receivedAt)::timestamptz[], \(c.messageId)::text[], \(c.rfcMessageId)::text[],
                    \(c.recipient)::text[], \(c.recipientDomain)::text[], \(c.sender)::text[],
                    \(c.senderDomain)::text[], \(c.bounceClass)::text[], \(c.rejectReason)::text[],
                    \(c.smtpCode)::text[], \(c.enhancedStatus)::text[], \(c.mtaResponse)::text[],
                    \(c.description)::text[], \(c.tags)::text[], \(c.metadata)::text[], \(c.campaign)::text[],
                    \(c.clickURL)::text[], \(c.userAgent)::text[], \(c.ip)::text[], \(c.isFirst)::text[],
                    \(c.isMachineOpen)::text[], \(c.raw)::text[]
                ) AS t(provider, event_key, source, event_type, esp_event, delivery_id, occurred_at,
                       received_at, message_id, rfc_message_id, recipient, recipient_domain, sender,
                       sender_domain, bounce_class, reject_reason, smtp_code, enhanced_status,
                       mta_response, description, tags, metadata, campaign, click_url, user_agent, ip,
                       is_first, is_machine_open, raw)
            ), inserted AS (
                INSERT INTO email_events (
                    provider, event_key, source, event_type, esp_event, delivery_id, occurred_at,
                    received_at, message_id, rfc_message_id, recipient, recipient_domain, sender,
                    sender_domain, bounce_class, reject_reason, smtp_code, enhanced_status, mta_response,
                    description, tags, metadata, campaign, click_url, user_agent, ip, is_first,
                    is_machine_open, raw)
                SELECT provider, event_key, source, event_type, esp_event, nullif(delivery_id, ''),
                       occurred_at, received_at, nullif(message_id, ''), nullif(rfc_message_id, ''),
                       nullif(recipient, ''), nullif(recipient_domain, ''), nullif(sender, ''),
                       nullif(sender_domain, ''), nullif(bounce_class, ''), nullif(reject_reason, ''),
                       nullif(smtp_code, '')::integer, nullif(enhanced_status, ''), nullif(mta_response, ''),
                       nullif(description, ''), tags::jsonb, metadata::jsonb, nullif(campaign, ''),
                       nullif(click_url, ''), nullif(user_agent, ''), nullif(ip, ''),
                       nullif(is_first, '')::boolean, nullif(is_machine_open, '')::boolean, raw::jsonb
                FROM input
                ORDER BY provider, event_key
                ON CONFLICT (provider, event_key) DO NOTHING
                RETURNING provider, source, event_type, occurred_at, sender_domain, recipient_domain, campaign
            ), counted AS (
                INSERT INTO event_counts_hourly AS c
                    (hour, provider, source, event_type, sender_domain, recipient_domain, campaign, count)
                SELECT date_trunc('hour', occurred_at, 'UTC'), provider, source, event_type,
                       coalesce(sender_domain, ''), coalesce(recipient_domain, ''), coalesce(campaign, ''), count(*)
                FROM inserted
                GROUP BY 1, 2, 3, 4, 5, 6, 7
                ORDER BY 1, 2, 3, 4, 5, 6, 7
                ON CONFLICT (hour, provider, source, event_type, sender_domain, recipient_domain, campaign)
                DO UPDATE SET count = c.count + EXCLUDED.count
                RETURNING 1
            )
            SELECT count(*)::int8 FROM inserted
            """
        do {
            let rows = try await client.query(query, logger: logger)
            var stored = 0
            for try await count in rows.decode(Int64.self) { stored = Int(count) }
            return BatchWriteResult(stored: stored, duplicates: events.count - stored)
        } catch {
            throw EventStoreError.from(error)
        }
    }
}

/// A batch turned inside out: one array per column.
struct BatchColumns {
    var provider: [String] = [], eventKey: [String] = [], source: [String] = [], eventType: [String] = []
    var espEvent: [String] = [], deliveryId: [String] = [], occurredAt: [Date] = [], receivedAt: [Date] = []
    var messageId: [String] = [], rfcMessageId: [String] = [], recipient: [String] = []
    var recipientDomain: [String] = [], sender: [String] = [], senderDomain: [String] = []
    var bounceClass: [String] = [], rejectReason: [String] = [], smtpCode: [String] = []
    var enhancedStatus: [String] = [], mtaResponse: [String] = [], description: [String] = []
    var tags: [String] = [], metadata: [String] = [], campaign: [String] = [], clickURL: [String] = []
    var userAgent: [String] = [], ip: [String] = [], isFirst: [String] = [], isMachineOpen: [String] = []
    var raw: [String] = []

    init(_ events: [EmailEvent]) {
        for e in events {
            provider.append(e.provider.rawValue)
            eventKey.append(e.eventKey)
            source.append(e.source)
            eventType.append(e.type.rawValue)
            espEvent.append(e.espEvent)
            deliveryId.append(e.deliveryId ?? "")
            occurredAt.append(e.occurredAt)
            receivedAt.append(e.receivedAt)
            messageId.append(e.messageId ?? "")
            rfcMessageId.append(e.rfcMessageId ?? "")
            recipient.append(e.recipient ?? "")
            recipientDomain.append(e.recipientDomain ?? "")
            sender.append(e.sender ?? "")
            senderDomain.append(e.senderDomain ?? "")
            bounceClass.append(e.bounceClass?.rawValue ?? "")
            rejectReason.append(e.rejectReason?.rawValue ?? "")
            smtpCode.append(e.smtpCode.map(String.init) ?? "")
            enhancedStatus.append(e.enhancedStatus ?? "")
            mtaResponse.append(e.mtaResponse ?? "")
            description.append(e.description ?? "")
            tags.append(Self.json(e.tags))
            metadata.append(Self.json(e.metadata))
            campaign.append(e.campaign ?? "")
            clickURL.append(e.clickURL ?? "")
            userAgent.append(e.userAgent ?? "")
            ip.append(e.ip ?? "")
            isFirst.append(e.isFirst.map { $0 ? "true" : "false" } ?? "")
            isMachineOpen.append(e.isMachineOpen.map { $0 ? "true" : "false" } ?? "")
            raw.append(String(decoding: e.raw, as: UTF8.self))
        }
    }

    private static func json(_ value: some Encodable) -> String {
        // Encoding string arrays and dictionaries cannot fail.
        (try? JSONEncoder().encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }
}
