import Crypto
import EmailEvents
import Foundation

/// Maps one SendGrid event object onto ``EmailEvent`` (docs/PROVIDERS.md §2.3 and §14.3).
enum SendGridNormalizer {
    /// Fields SendGrid defines; every other top-level key is a custom arg and goes to metadata.
    static let knownFields: Set<String> = [
        "email", "timestamp", "event", "sg_event_id", "sg_message_id", "smtp-id", "category",
        "asm_group_id", "ip", "response", "reason", "status", "type", "attempt", "tls", "url",
        "url_offset", "useragent", "sg_machine_open", "bounce_classification", "pool", "send_at",
        "marketing_campaign_id", "marketing_campaign_name", "marketing_campaign_version",
        "marketing_campaign_split_id", "sg_content_type", "sg_template_id", "sg_template_name",
        "cert_err", "singlesend_id", "singlesend_name", "template_id", "template_version_id",
        "template_name", "mc_stats", "phase_id", "post_type", "send_id",
    ]

    static let readerEvents: Set<String> = ["open", "click", "unsubscribe", "group_unsubscribe", "group_resubscribe"]

    static func normalize(_ object: JSONObject, raw: [UInt8], source: String, receivedAt: Date) throws(WebhookError) -> EmailEvent {
        guard let name = object.text("event") else { throw WebhookError(.malformed, "event object has no event name") }
        // Without sg_event_id, the event's own bytes identify it: a retried batch repeats them.
        let key = object.text("sg_event_id") ?? "sha256:" + Hex.encode(SHA256.hash(data: raw))
        var event = EmailEvent(
            provider: .sendgrid, source: source, type: type(of: name), espEvent: name, eventKey: key,
            occurredAt: EventTime.seconds(object.double("timestamp"), receivedAt: receivedAt), receivedAt: receivedAt, raw: raw
        )
        event.messageId = object.text("sg_message_id")
        event.rfcMessageId = object.text("smtp-id").map(stripAngleBrackets)
        event.setRecipient(object.text("email"))
        event.tags = object.strings("category")
        event.metadata = metadata(object)
        event.campaign = event.metadata["campaign"] ?? object.text("marketing_campaign_name")
        event.clickURL = object.text("url")
        event.userAgent = object.text("useragent")
        // On message events `ip` is the address SendGrid sent from; only a reader's action carries theirs.
        event.ip = Self.readerEvents.contains(name) ? object.text("ip") : nil
        event.isMachineOpen = name == "open" ? object.bool("sg_machine_open") : nil
        // True when Apple Mail Privacy Protection loaded the pixel (docs/PROVIDERS.md §2).
        if event.isMachineOpen == true { event.machineFlag = "sg_machine_open" }
        let response = object.text("response") ?? (name == "dropped" ? nil : object.text("reason"))
        event.mtaResponse = response
        event.smtpCode = response.flatMap(SMTPText.leadingCode)
        event.enhancedStatus = object.text("status")
        classify(&event, name: name, object: object)
        return event
    }

    static func type(of name: String) -> EventType {
        switch name {
        case "processed": .queued
        case "dropped": .rejected
        case "delivered": .delivered
        case "deferred": .deferred
        case "bounce": .bounced
        case "open": .opened
        case "click": .clicked
        case "spamreport": .complained
        case "unsubscribe", "group_unsubscribe": .unsubscribed
        case "group_resubscribe": .subscribed
        default: .unknown
        }
    }

    private static func classify(_ event: inout EmailEvent, name: String, object: JSONObject) {
        switch name {
        case "bounce":
            event.bounceClass = object.text("type") == "blocked" ? .block : .hard
            event.description = object.text("bounce_classification")
        case "deferred":
            event.bounceClass = .soft
        case "dropped":
            let reason = object.text("reason")
            event.description = reason
            event.rejectReason = rejectReason(reason ?? object.text("type") ?? "")
        default:
            break
        }
    }

    static func rejectReason(_ text: String) -> RejectReason {
        switch text.lowercased() {
        case "invalid", "invalid smtpapi header": .invalid
        case "unsubscribed address": .unsubscribed
        case "bounce", "bounced address": .bounced
        case "blocked": .blocked
        case "expired": .timedOut
        case "spam reporting address", "spam content": .spam
        default: .other
        }
    }

    private static func metadata(_ object: JSONObject) -> [String: String] {
        var result: [String: String] = [:]
        for (key, value) in object.storage where !knownFields.contains(key) {
            result[key] = JSONObject.textValue(value)
        }
        return result
    }
}
