import EmailEvents
import Foundation

/// SparkPost (Bird) event webhooks (docs/PROVIDERS.md §6): an array of `{"msys": {<class>: {…}}}`.
/// An empty `{"msys": {}}` is the ping SparkPost sends when a webhook is saved: accepted, no
/// event. Unsigned: basic auth or an OAuth2 bearer token.
public struct SparkPostProvider: WebhookProvider {
    public var provider: Provider { .sparkpost }

    public init() {}

    public func authenticate(
        _ request: WebhookRequest, credentials: SourceCredentials, now: Date
    ) async throws(WebhookError) -> Authentication {
        try HTTPCredentials.verify(request, credentials: credentials)
        return Authentication()
    }

    public func normalize(_ request: WebhookRequest, _ authentication: Authentication, source: String) -> ReceivedWebhook {
        EventObjects.normalizeEach(request.body) { object, elementRaw throws(WebhookError) in
            guard let msys = object.object("msys") else { throw WebhookError(.malformed, "element has no msys object") }
            guard let (eventClass, body) = msys.storage.first else { return [] }  // the ping: {"msys":{}}
            guard let fields = JSONObject(body) else { throw WebhookError(.malformed, "msys.\(eventClass) is not an object") }
            // The event's own bytes, located inside the element so `raw` stays byte-exact.
            let raw = JSONScanner.valueRange(atPath: ["msys", eventClass], in: elementRaw).map { Array(elementRaw[$0]) } ?? elementRaw
            return [try SparkPostNormalizer.normalize(fields, raw: raw, source: source, receivedAt: request.receivedAt)]
        }.received()
    }
}

/// Maps one SparkPost event onto ``EmailEvent`` (docs/PROVIDERS.md §6 and §14.3).
enum SparkPostNormalizer {
    static func normalize(_ object: JSONObject, raw: [UInt8], source: String, receivedAt: Date) throws(WebhookError) -> EmailEvent {
        guard let name = object.text("type") else { throw WebhookError(.malformed, "event has no type") }
        // Unix seconds (a string in SparkPost's samples); generation events carry ISO 8601 instead.
        let occurredAt =
            EventTime.seconds(object.double("timestamp"), receivedAt: receivedAt)
            ?? EventTime.checked(object.text("timestamp").flatMap(ISO8601.parse), receivedAt: receivedAt)
        let key =
            object.text("event_id")
            ?? EventKey.derived([name, object.text("message_id"), object.text("rcpt_to"), object.string("timestamp")])
        var event = EmailEvent(
            provider: .sparkpost, source: source, type: type(of: name), espEvent: name, eventKey: key,
            occurredAt: occurredAt, receivedAt: receivedAt, raw: raw
        )
        event.messageId = object.text("transmission_id")
        event.rfcMessageId = nil
        event.setRecipient(object.text("raw_rcpt_to") ?? object.text("rcpt_to"))
        event.setSender(object.text("friendly_from") ?? object.text("msg_from"))
        event.mtaResponse = object.text("raw_reason") ?? object.text("reason")
        event.smtpCode = object.int("error_code")
        event.description = object.text("reason")
        if let bounceClass = object.int("bounce_class") { applyBounceClass(bounceClass, to: &event) }
        if event.type == .rejected, event.rejectReason == nil { event.rejectReason = .other }
        event.tags = object.strings("rcpt_tags")
        event.metadata = object.object("rcpt_meta")?.textMap() ?? [:]
        event.campaign = event.metadata["campaign"] ?? object.text("campaign_id")
        event.clickURL = object.text("target_link_url")
        event.userAgent = object.text("user_agent")
        // On message events ip_address is the receiving server's; only engagement events say the reader's.
        if engagement.contains(name) { event.ip = object.text("ip_address") }
        // SparkPost marks an open a proxy pre-fetched (Apple's, Gmail's) in the parsed user agent.
        if engagement.contains(name), let parsed = object.object("user_agent_parsed") {
            if parsed.bool("is_prefetched") == true {
                event.machineFlag = "user_agent_parsed.is_prefetched"
            } else if parsed.bool("is_proxy") == true, event.type == .opened {
                event.machineFlag = "user_agent_parsed.is_proxy"
            }
        }
        return event
    }

    static func type(of name: String) -> EventType {
        switch name {
        case "injection": .queued
        case "delivery": .delivered
        case "bounce", "out_of_band": .bounced
        case "delay": .deferred
        case "policy_rejection", "generation_rejection": .rejected
        case "generation_failure": .failed
        case "spam_complaint": .complained
        // initial_open is SparkPost's second pixel at the top of the message, not a first open:
        // counting it as an open would count one open twice.
        case "open", "amp_open": .opened
        case "click", "amp_click": .clicked
        case "list_unsubscribe", "link_unsubscribe": .unsubscribed
        default: .unknown
        }
    }

    static let engagement: Set<String> = [
        "open", "initial_open", "amp_open", "amp_initial_open", "click", "amp_click", "list_unsubscribe", "link_unsubscribe",
    ]

    /// SparkPost's bounce classes (its bounce-classification table; docs/PROVIDERS.md §6 and the
    /// anymail overrides). Class 25 (admin failure: SparkPost's own policy, e.g. a suppressed
    /// address) is SparkPost refusing to send.
    static func applyBounceClass(_ code: Int, to event: inout EmailEvent) {
        if event.type == .bounced || event.type == .rejected {
            switch code {
            case 25: event.type = .rejected
            case 60, 100: event.type = .autoresponded
            case 80: event.type = .subscribed
            case 90: event.type = .unsubscribed
            default: break
            }
        }
        if event.type == .bounced || event.type == .deferred {
            event.bounceClass =
                switch code {
                case 10, 30, 90: .hard
                case 20...24, 40, 60, 70, 100: .soft
                case 50...54: .block
                default: .undetermined
                }
        }
        guard event.type == .rejected else { return }
        event.rejectReason =
            switch code {
            case 10: .invalid
            case 20...23, 30, 40, 70: .bounced
            case 24: .timedOut
            case 25, 50, 54: .blocked
            case 51, 52: .spam
            case 90: .unsubscribed
            default: .other
            }
    }
}
