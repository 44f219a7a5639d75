import EventStore
import Foundation

/// What one answer (or its absence) means for the request's deliveries and for the endpoint, as
/// the senders teams rely on behave: 2xx delivered; 410 Gone disables the endpoint; anything
/// else (3xx included: redirects are not followed) is a failure tried again on the schedule, or
/// after `Retry-After` on a 429 or 503.
public enum AttemptPolicy {
    public enum Verdict: Sendable, Equatable {
        case delivered
        case retry(after: TimeInterval)
        /// The schedule is spent.
        case exhausted
        /// 410: the receiver says the endpoint is gone.
        case gone
    }

    public static func verdict(
        status: Int?, retryAfter: TimeInterval?, attempt: Int, schedule: RetrySchedule, maxRetryAfter: TimeInterval,
        random: Double = Double.random(in: -1...1)
    ) -> Verdict {
        if let status, (200..<300).contains(status) { return .delivered }
        if status == 410 { return .gone }
        guard let wait = schedule.delay(after: attempt, random: random) else { return .exhausted }
        if let retryAfter, status == 429 || status == 503 { return .retry(after: min(max(0, retryAfter), maxRetryAfter)) }
        return .retry(after: wait)
    }

    /// `Retry-After`: seconds, or an HTTP date (RFC 9110 §10.2.3); nil when absent or unreadable.
    public static func retryAfter(_ header: String?, now: Date = Date()) -> TimeInterval? {
        guard let text = header?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        if let seconds = Int(text) { return seconds >= 0 ? TimeInterval(seconds) : nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: text) else { return nil }
        return max(0, date.timeIntervalSince(now))
    }
}
