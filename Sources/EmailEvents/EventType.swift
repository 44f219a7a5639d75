/// The normalized event types (docs/PROVIDERS.md §13.1, django-anymail's taxonomy).
///
/// The ESP's own name is always kept beside it as ``EmailEvent/espEvent``; anything we cannot map is
/// `unknown`, never dropped.
public enum EventType: String, Sendable, Codable, CaseIterable {
    case queued
    case sent
    case delivered
    case deferred
    case bounced
    case rejected
    case failed
    case opened
    case clicked
    case complained
    case unsubscribed
    case subscribed
    case autoresponded
    case unknown
}

/// How a bounce is classified across ESPs.
public enum BounceClass: String, Sendable, Codable, CaseIterable {
    /// Permanent: the address does not exist or never will accept mail.
    case hard
    /// Temporary: the ESP may try again.
    case soft
    /// The receiving server blocked the sender (reputation, policy).
    case block
    case undetermined
}

/// Why an ESP refused to send (anymail's reject reasons).
public enum RejectReason: String, Sendable, Codable, CaseIterable {
    case invalid
    case bounced
    case timedOut = "timed_out"
    case blocked
    case spam
    case unsubscribed
    case other
}
