import EmailEvents
import Foundation

/// Mailjet's Event API (docs/PROVIDERS.md §9): one event object, or an array of them when
/// "group events" is on. Unsigned: basic auth in the URL. Served by ``CredentialedJSONProvider/mailjet``.
///
/// Maps one Mailjet event onto ``EmailEvent`` (docs/PROVIDERS.md §9 and §14.3).
enum MailjetNormalizer {
    static func normalize(_ object: JSONObject, raw: [UInt8], source: String, receivedAt: Date) throws(WebhookError) -> EmailEvent {
        guard let name = object.text("event") else { throw WebhookError(.malformed, "event object has no event name") }
        // MessageID exceeds 2^53: JSONObject reads integers exactly, never through a Double.
        let messageId = object.string("MessageID") ?? object.string("mj_message_id")
        let error = object.text("error")
        let hard = object.bool("hard_bounce")
        var type: EventType =
            switch name {
            case "sent": .delivered
            case "open": .opened
            case "click": .clicked
            case "bounce": .bounced
            case "blocked": .rejected
            case "spam": .complained
            case "unsub": .unsubscribed
            default: .unknown
            }
        if name == "bounce", hard == false, error == "greylisted" { type = .deferred }
        var event = EmailEvent(
            provider: .mailjet, source: source, type: type, espEvent: name,
            eventKey: EventKey.derived([name, messageId, object.text("email")?.lowercased(), object.string("time"), object.text("url")]),
            occurredAt: EventTime.seconds(object.double("time"), receivedAt: receivedAt), receivedAt: receivedAt, raw: raw
        )
        event.messageId = messageId
        event.setRecipient(object.text("email"))
        event.mtaResponse = object.text("smtp_reply")
        event.smtpCode = event.mtaResponse.flatMap(SMTPText.code(in:))
        if let error {
            event.description = [object.text("error_related_to"), error].compactMap { $0 }.joined(separator: ": ")
        }
        if name == "bounce" { event.bounceClass = hard == true ? .hard : .soft }
        if type == .rejected { event.rejectReason = rejectReason(error) }
        // Mailjet has no tags; the sender's Payload (a JSON object, when it is one) is the metadata.
        event.metadata = object.text("Payload").flatMap { JSONObject.parse(Array($0.utf8))?.textMap() } ?? [:]
        event.campaign = event.metadata["campaign"] ?? object.text("customcampaign")
        event.clickURL = object.text("url")
        event.userAgent = object.text("agent")
        event.ip = object.text("ip")
        return event
    }

    static func rejectReason(_ error: String?) -> RejectReason {
        switch error ?? "" {
        case "user unknown", "mailbox inactive", "quota exceeded", "invalid domain", "no mail host", "relay/access denied": .bounced
        case "blacklisted", "sender blocked", "content blocked", "policy issue", "preblocked": .blocked
        case "spam reporter": .spam
        case "typofix": .invalid
        default: .other
        }
    }
}
