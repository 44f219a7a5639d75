import EmailEvents
import Foundation

/// Maps an SES event (event publishing `eventType` or notification `notificationType`) onto one
/// ``EmailEvent`` per recipient (docs/PROVIDERS.md §7.3, §13.1 and §14.3). The event time is the
/// SES event's own timestamp, not the SNS publish time; the key is the SNS MessageId and the
/// recipient.
enum SESNormalizer {
    static func normalize(
        _ ses: JSONObject, raw: [UInt8], deliveryId: String, fallbackTime: String, provider: Provider = .ses, source: String,
        receivedAt: Date
    ) throws(WebhookError) -> [EmailEvent] {
        guard let name = ses.text("eventType") ?? ses.text("notificationType") else {
            throw WebhookError(.malformed, "SES message has no eventType or notificationType")
        }
        // SES confirms an identity's notification topic with this: a handshake, not an event.
        if name == "AmazonSnsSubscriptionSucceeded" { return [] }
        let mail = ses.object("mail")
        let detail = ses.object(detailKey(name))
        let timeText = detail?.text("timestamp") ?? mail?.text("timestamp") ?? fallbackTime
        let occurredAt =
            EventTime.checked(ISO8601.parse(timeText), receivedAt: receivedAt)
            ?? EventTime.checked(ISO8601.parse(fallbackTime), receivedAt: receivedAt)

        let recipients = recipients(name, detail: detail, mail: mail)
        guard !recipients.isEmpty else { throw WebhookError(.malformed, "SES event names no recipient") }
        return recipients.map { recipient in
            var event = EmailEvent(
                provider: provider, source: source, type: .unknown, espEvent: name,
                eventKey: "\(deliveryId):\((recipient.address ?? "").lowercased())",
                occurredAt: occurredAt, receivedAt: receivedAt, raw: raw
            )
            event.deliveryId = deliveryId
            event.messageId = mail?.text("messageId")
            event.rfcMessageId = mail?.object("commonHeaders")?.text("messageId").map(stripAngleBrackets)
            event.setRecipient(recipient.address)
            event.setSender(mail?.text("source"))
            event.enhancedStatus = recipient.status
            event.mtaResponse = recipient.diagnostic
            event.tags = []
            event.metadata = tags(mail?.object("tags"))
            event.campaign = event.metadata["campaign"]
            classify(&event, name: name, detail: detail)
            return event
        }
    }

    /// `Bounce` → `bounce`, `Rendering Failure` → `failure`, `DeliveryDelay` → `deliveryDelay`.
    static func detailKey(_ name: String) -> String {
        switch name {
        case "Rendering Failure": "failure"
        case "DeliveryDelay": "deliveryDelay"
        default: name.prefix(1).lowercased() + name.dropFirst()
        }
    }

    struct Recipient {
        var address: String?
        var status: String?
        var diagnostic: String?
    }

    static func recipients(_ name: String, detail: JSONObject?, mail: JSONObject?) -> [Recipient] {
        func list(_ key: String) -> [Recipient]? {
            (detail?.array(key) as? [Any])?.compactMap(JSONObject.init).map {
                Recipient(address: $0.text("emailAddress"), status: $0.text("status"), diagnostic: $0.text("diagnosticCode"))
            }
        }
        let specific: [Recipient]? =
            switch name {
            case "Bounce": list("bouncedRecipients")
            case "Complaint": list("complainedRecipients")
            case "DeliveryDelay": list("delayedRecipients")
            case "Delivery":
                detail?.strings("recipients").map { Recipient(address: $0, status: nil, diagnostic: detail?.text("smtpResponse")) }
            default: nil
            }
        if let specific, !specific.isEmpty { return specific }
        return (mail?.strings("destination") ?? []).map { Recipient(address: $0) }
    }

    static func classify(_ event: inout EmailEvent, name: String, detail: JSONObject?) {
        switch name {
        case "Send": event.type = .sent
        case "Delivery": event.type = .delivered
        case "Open": event.type = .opened
        case "Click": event.type = .clicked
        case "Reject":
            event.type = .rejected
            event.rejectReason = .blocked
            event.description = detail?.text("reason")
        case "Rendering Failure":
            event.type = .failed
            event.description = detail?.text("errorMessage")
        case "DeliveryDelay":
            event.type = .deferred
            event.bounceClass = .soft
            event.description = detail?.text("delayType")
        case "Complaint":
            event.type = .complained
            event.description = detail?.text("complaintFeedbackType")
        case "Bounce":
            let kind = detail?.text("bounceType")
            let subtype = detail?.text("bounceSubType")
            event.description = [kind, subtype].compactMap { $0 }.joined(separator: ": ")
            // SES refusing to send to a suppressed address is a rejection, not a bounce.
            if subtype == "Suppressed" || subtype == "OnAccountSuppressionList" {
                event.type = .rejected
                event.rejectReason = .bounced
            } else {
                event.type = .bounced
                event.bounceClass = kind == "Permanent" ? .hard : kind == "Transient" ? .soft : .undetermined
            }
        case "Subscription":
            let preferences = detail?.object("newTopicPreferences")
            let optedOut =
                preferences?.bool("unsubscribeAll") == true
                || (preferences?.array("topicSubscriptionStatus") ?? []).compactMap(JSONObject.init).contains {
                    $0.text("subscriptionStatus") == "OptOut"
                }
            event.type = optedOut ? .unsubscribed : .subscribed
        default:
            event.type = .unknown
        }
        // SES diagnostic codes read "smtp; 550 5.1.1 user unknown".
        event.smtpCode = event.mtaResponse.flatMap(SMTPText.code(in:))
        if let open = detail, ["Open", "Click"].contains(name) {
            event.ip = open.text("ipAddress")
            event.userAgent = open.text("userAgent")
            event.clickURL = open.text("link")
        }
    }

    /// SES message tags: `{"campaign": ["spring"], "ses:configuration-set": ["main"]}` → the first
    /// value of each, without SES's own `ses:` tags.
    static func tags(_ object: JSONObject?) -> [String: String] {
        var result: [String: String] = [:]
        for (key, value) in object?.storage ?? [:] where !key.hasPrefix("ses:") {
            if let list = value as? [Any], let first = list.first.flatMap(JSONObject.textValue) {
                result[key] = first
            } else if let text = JSONObject.textValue(value) {
                result[key] = text
            }
        }
        return result
    }
}
