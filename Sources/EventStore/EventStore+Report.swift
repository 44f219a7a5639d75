import Foundation
import PostgresNIO

/// One row of a report's bounce reasons: the answer, how many bounces gave it.
public struct BounceReason: Sendable, Equatable {
    public var smtpCode: String, status: String, bounceClass: String, reason: String
    public var count: Int64
}

/// An alert as a report lists it.
public struct AlertSummary: Sendable, Equatable {
    public var kind: String, senderDomain: String
    public var rate: Double, threshold: Double
    public var windowEnd: Date
}

extension EventStore {
    /// The commonest bounce answers of events in [since, until) (`email_events`, within retention).
    public func bounceReasons(since: Date, until: Date, limit: Int = 10) async throws(EventStoreError) -> [BounceReason] {
        do {
            var result: [BounceReason] = []
            let rows = try await client.query(
                """
                SELECT coalesce(smtp_code::text, ''), coalesce(enhanced_status, ''), coalesce(bounce_class, ''),
                       left(coalesce(description, mta_response, ''), 160), count(*)::int8
                FROM email_events WHERE event_type = 'bounced' AND occurred_at >= \(since) AND occurred_at < \(until)
                GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC, 1, 2, 3, 4 LIMIT \(max(1, limit))
                """, logger: logger)
            for try await (code, status, bounceClass, reason, count) in rows.decode((String, String, String, String, Int64).self) {
                result.append(BounceReason(smtpCode: code, status: status, bounceClass: bounceClass, reason: reason, count: count))
            }
            return result
        } catch {
            throw EventStoreError.from(error)
        }
    }

    /// Addresses suppressed in [since, until) and still suppressed, by reason.
    public func suppressionsAdded(since: Date, until: Date) async throws(EventStoreError) -> [String: Int64] {
        do {
            var result: [String: Int64] = [:]
            let rows = try await client.query(
                """
                SELECT reason, count(*)::int8 FROM active_suppressions
                WHERE suppressed_at >= \(since) AND suppressed_at < \(until) GROUP BY 1
                """, logger: logger)
            for try await (reason, count) in rows.decode((String, Int64).self) { result[reason] = count }
            return result
        } catch {
            throw EventStoreError.from(error)
        }
    }

    /// Alerts whose window ended in [since, until), newest first.
    public func alerts(since: Date, until: Date, limit: Int = 50) async throws(EventStoreError) -> [AlertSummary] {
        do {
            var result: [AlertSummary] = []
            let rows = try await client.query(
                """
                SELECT kind, sender_domain, rate, threshold, window_end FROM alerts
                WHERE window_end >= \(since) AND window_end < \(until) ORDER BY window_end DESC, id DESC LIMIT \(max(1, limit))
                """, logger: logger)
            for try await (kind, domain, rate, threshold, end) in rows.decode((String, String, Double, Double, Date).self) {
                result.append(AlertSummary(kind: kind, senderDomain: domain, rate: rate, threshold: threshold, windowEnd: end))
            }
            return result
        } catch {
            throw EventStoreError.from(error)
        }
    }
}
