import Foundation

/// Event times from request data, checked. Whatever number or text an ESP (or an attacker holding
/// a valid signature block) sends, the result is either a time PostgreSQL, the rollups and the
/// stream codec can hold, or nil, never a trap: `1e13` seconds does not fit in Int64 microseconds,
/// and a time in the year 275,000 would be a row no retention ever drops.
///
/// A plausible event time lies between 2000-01-01 and one day after the request was received (ESP
/// clocks drift; a delivery cannot happen next week). Callers treat anything else as absent: the
/// event then takes its receive time, marked ``EmailEvent/occurredAtEstimated``.
public enum EventTime {
    /// 2000-01-01T00:00:00Z.
    public static let earliestSeconds: Double = 946_684_800
    /// How far after its receipt an event may say it happened.
    public static let aheadToleranceSeconds: Double = 86_400

    /// Unix seconds (Mailgun's `1529692199.626182`), to the microsecond.
    public static func seconds(_ value: Double?, receivedAt: Date) -> Date? {
        guard let value, isPlausible(value, receivedAt: receivedAt) else { return nil }
        return Date(unixMicroseconds: Int64((value * 1_000_000).rounded()))
    }

    /// Unix milliseconds (Brevo's `ts_epoch`).
    public static func milliseconds(_ value: Double?, receivedAt: Date) -> Date? {
        seconds(value.map { $0 / 1000 }, receivedAt: receivedAt)
    }

    /// A time already parsed (ISO 8601), if plausible.
    public static func checked(_ date: Date?, receivedAt: Date) -> Date? {
        guard let date, isPlausible(date.timeIntervalSince1970, receivedAt: receivedAt) else { return nil }
        return date
    }

    static func isPlausible(_ seconds: Double, receivedAt: Date) -> Bool {
        seconds.isFinite && seconds >= earliestSeconds && seconds <= receivedAt.timeIntervalSince1970 + aheadToleranceSeconds
    }
}
