import EmailEvents

/// The analysts' rules the batch write applies (docs/ANALYTICS.md): when soft bounces suppress an
/// address, and when a sending domain's complaint or bounce rate raises an alert.
public struct AnalyticsPolicy: Sendable, Equatable {
    /// An address is suppressed once it soft-bounced this many times …
    public var softBounceLimit: Int
    /// … within this many days.
    public var softBounceWindowDays: Int
    /// Complaints / delivered above this (0.001 = 0.1 %) raises a `complaint_rate` alert.
    public var complaintRateThreshold: Double
    /// Bounced / (delivered + bounced) above this (0.05 = 5 %) raises a `bounce_rate` alert.
    public var bounceRateThreshold: Double
    /// The sliding window the rates are taken over, in hours, ending with the hour of the newest event.
    public var alertWindowHours: Int
    /// Rates over fewer messages than this (delivered for complaints, sent for bounces) raise nothing.
    public var alertMinimumVolume: Int
    /// Which recipient domains belong to which mailbox provider (`postwire_mailbox_provider`).
    public var mailboxProviders: MailboxProviders
    /// A click this soon after its message's delivery is a scanner's (0: the rule is off).
    public var scannerClickSeconds: Double
    /// This many clicks of one message within `clickBurstSeconds` are a scanner's (below 2: off).
    public var clickBurstCount: Int
    public var clickBurstSeconds: Double

    public init(
        softBounceLimit: Int = 3, softBounceWindowDays: Int = 7, complaintRateThreshold: Double = 0.001,
        bounceRateThreshold: Double = 0.05, alertWindowHours: Int = 24, alertMinimumVolume: Int = 1000,
        mailboxProviders: MailboxProviders = .standard, scannerClickSeconds: Double = 2, clickBurstCount: Int = 3,
        clickBurstSeconds: Double = 1
    ) {
        self.mailboxProviders = mailboxProviders
        // Non-finite or negative values are the rule turned off, never SQL that fails.
        self.scannerClickSeconds = scannerClickSeconds.isFinite ? min(max(0, scannerClickSeconds), 86400) : 0
        self.clickBurstCount = max(0, min(clickBurstCount, 1000))
        self.clickBurstSeconds = clickBurstSeconds.isFinite ? min(max(0, clickBurstSeconds), 3600) : 0
        self.softBounceLimit = max(1, softBounceLimit)
        self.softBounceWindowDays = max(1, softBounceWindowDays)
        self.complaintRateThreshold = complaintRateThreshold
        self.bounceRateThreshold = bounceRateThreshold
        self.alertWindowHours = max(1, alertWindowHours)
        self.alertMinimumVolume = max(1, alertMinimumVolume)
    }
}

/// An alert the batch raised (a new row in `alerts`).
public struct RaisedAlert: Sendable, Equatable {
    public var kind: String
    public var senderDomain: String
    public var rate: Double
    public var threshold: Double
    public var numerator: Int64
    public var denominator: Int64
}
