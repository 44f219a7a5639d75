import Foundation

/// One normalized ESP event: what travels through the stream and becomes one `email_events` row.
///
/// Field meanings follow docs/PROVIDERS.md §13.2. Addresses are lower-cased and their domains split
/// off by ``init(provider:source:type:espEvent:eventKey:occurredAt:receivedAt:raw:)`` callers via
/// ``setRecipient(_:)`` / ``setSender(_:)`` so the rule lives in one place.
public struct EmailEvent: Sendable, Equatable, Codable {
    public var provider: Provider
    /// The configured source (one ESP account), the `{source}` URL segment.
    public var source: String
    public var type: EventType
    /// The ESP's own event name, exactly as sent (`bounce`, `failed`, …).
    public var espEvent: String
    /// Deduplication key, unique per (provider, eventKey). See docs/PROVIDERS.md §13.3.
    public var eventKey: String
    /// Request-level id (Mailgun token, SNS MessageId, svix-id, …), for tracing.
    public var deliveryId: String?
    /// When the ESP says the event happened; the receive time when it said nothing usable.
    public var occurredAt: Date
    /// True when the ESP sent no plausible time for the event (``EventTime``) and `occurredAt` is
    /// the receive time; nil otherwise. The `occurred_at_estimated` column.
    public var occurredAtEstimated: Bool?
    /// When the ingress received the request.
    public var receivedAt: Date
    /// The ESP's message id (as returned by its send API).
    public var messageId: String?
    /// The RFC 5322 `Message-ID`, without angle brackets.
    public var rfcMessageId: String?
    public private(set) var recipient: String?
    public private(set) var recipientDomain: String?
    public private(set) var sender: String?
    public private(set) var senderDomain: String?
    public var bounceClass: BounceClass?
    public var rejectReason: RejectReason?
    public var smtpCode: Int?
    public var enhancedStatus: String?
    public var mtaResponse: String?
    public var description: String?
    public var tags: [String]
    /// Custom key/values the sender attached; non-string values are kept as JSON text.
    public var metadata: [String: String]
    public var campaign: String?
    public var clickURL: String?
    public var userAgent: String?
    public var ip: String?
    public var isFirst: Bool?
    public var isMachineOpen: Bool?
    /// The ESP's own field that said a machine opened or clicked, by name (`sg_machine_open`,
    /// `proxy_open`, `client-info.bot`, …); nil when it said nothing or said a person.
    public var machineFlag: String?
    /// The verdict of ``EngagementRules`` for an open or click (the `machine` column), and the
    /// rule that gave it (`engagement_reason`); nil for other events. Set by the worker.
    public var isMachine: Bool?
    public var engagementReason: String?
    /// The ESP's own JSON for this one event, byte-exact as received.
    public var raw: [UInt8]

    public init(
        provider: Provider,
        source: String,
        type: EventType,
        espEvent: String,
        eventKey: String,
        occurredAt: Date?,
        receivedAt: Date,
        raw: [UInt8]
    ) {
        self.provider = provider
        self.source = source
        self.type = type
        self.espEvent = espEvent
        self.eventKey = eventKey
        self.occurredAt = occurredAt ?? receivedAt
        self.occurredAtEstimated = occurredAt == nil ? true : nil
        self.receivedAt = receivedAt
        self.tags = []
        self.metadata = [:]
        self.raw = raw
    }

    /// Stores the recipient lower-cased for aggregation, and its domain.
    public mutating func setRecipient(_ address: String?) {
        (recipient, recipientDomain) = Self.normalizedAddress(address)
    }

    /// Stores the sender lower-cased for aggregation, and its domain.
    public mutating func setSender(_ address: String?) {
        (sender, senderDomain) = Self.normalizedAddress(address)
    }

    /// The address fields as a stream entry carries them, normalized already by the ingress.
    mutating func setDecodedAddresses(recipient: String?, recipientDomain: String?, sender: String?, senderDomain: String?) {
        (self.recipient, self.recipientDomain, self.sender, self.senderDomain) = (recipient, recipientDomain, sender, senderDomain)
    }

    /// `"Alice <Alice@Example.COM>"` → (`alice@example.com`, `example.com`).
    static func normalizedAddress(_ address: String?) -> (String?, String?) {
        guard var text = address?.trimmed, !text.isEmpty else {
            return (nil, nil)
        }
        if let open = text.lastIndex(of: "<"), let close = text.lastIndex(of: ">"), open < close {
            text = String(text[text.index(after: open)..<close])
        }
        let lowered = text.lowercased()
        guard let at = lowered.lastIndex(of: "@") else { return (lowered, nil) }
        let domain = String(lowered[lowered.index(after: at)...])
        return (lowered, domain.isEmpty ? nil : domain)
    }
}
