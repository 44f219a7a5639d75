import Foundation
import PostgresNIO

/// One row of `event_counts_hourly`.
public struct HourlyCount: Sendable, Hashable {
    public var hour: Date
    public var provider: String
    public var source: String
    public var eventType: String
    public var senderDomain: String
    public var recipientDomain: String
    public var campaign: String
    public var count: Int64

    public init(
        hour: Date, provider: String, source: String, eventType: String, senderDomain: String, recipientDomain: String, campaign: String,
        count: Int64
    ) {
        self.hour = hour
        self.provider = provider
        self.source = source
        self.eventType = eventType
        self.senderDomain = senderDomain
        self.recipientDomain = recipientDomain
        self.campaign = campaign
        self.count = count
    }
}

extension EventStore {
    /// Hourly counts from `since` on, oldest first.
    public func hourlyCounts(since: Date = .distantPast) async throws(EventStoreError) -> [HourlyCount] {
        do {
            let rows = try await client.query(
                """
                SELECT hour, provider, source, event_type, sender_domain, recipient_domain, campaign, count
                FROM event_counts_hourly WHERE hour >= \(since)
                ORDER BY hour, provider, source, event_type, sender_domain, recipient_domain, campaign
                """,
                logger: logger
            )
            var result: [HourlyCount] = []
            for try await (hour, provider, source, type, senderDomain, recipientDomain, campaign, count) in rows.decode(
                (Date, String, String, String, String, String, String, Int64).self)
            {
                result.append(
                    HourlyCount(
                        hour: hour, provider: provider, source: source, eventType: type, senderDomain: senderDomain,
                        recipientDomain: recipientDomain, campaign: campaign, count: count))
            }
            return result
        } catch {
            throw EventStoreError.from(error)
        }
    }

    /// Number of stored events (all of them, or one provider's).
    public func eventCount(provider: String? = nil) async throws(EventStoreError) -> Int {
        do {
            let rows = try await client.query(
                "SELECT count(*)::int8 FROM email_events WHERE \(provider)::text IS NULL OR provider = \(provider)",
                logger: logger
            )
            var count: Int64 = 0
            for try await value in rows.decode(Int64.self) { count = value }
            return Int(count)
        } catch {
            throw EventStoreError.from(error)
        }
    }

    /// Events stored (new, counted) since `date`, by provider.
    public func storedSince(_ date: Date) async throws(EventStoreError) -> [String: Int] {
        do {
            let rows = try await client.query(
                "SELECT provider, count(*)::int8 FROM email_events WHERE stored_at >= \(date) GROUP BY provider", logger: logger)
            var counts: [String: Int] = [:]
            for try await (provider, count) in rows.decode((String, Int64).self) { counts[provider] = Int(count) }
            return counts
        } catch {
            throw EventStoreError.from(error)
        }
    }

    /// Makes sure the monthly partitions of `email_events` exist for `months` months from the
    /// month of `start` (events outside them land in `email_events_default`). Returns how many
    /// were created.
    @discardableResult
    public func ensurePartitions(from start: Date, months: Int) async throws(EventStoreError) -> Int {
        do {
            let rows = try await client.query("SELECT postwire_ensure_partitions(\(start), \(months)::int)", logger: logger)
            var created = 0
            for try await count in rows.decode(Int32.self) { created = Int(count) }
            return created
        } catch {
            throw EventStoreError.from(error)
        }
    }
}
