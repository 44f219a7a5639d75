import EmailEvents
import Foundation

/// Brevo transactional webhooks (docs/PROVIDERS.md §8): one event, or an array in batched mode.
/// Unsigned: basic auth in the URL or a bearer token. Served by ``CredentialedJSONProvider/brevo``.
///
/// Maps one Brevo event onto ``EmailEvent`` (docs/PROVIDERS.md §8 and §14.3).
enum BrevoNormalizer {
    static func normalize(_ object: JSONObject, raw: [UInt8], source: String, receivedAt: Date) throws(WebhookError) -> EmailEvent {
        guard let name = object.text("event") else { throw WebhookError(.malformed, "event object has no event name") }
        // ts_epoch is milliseconds UTC, the most reliable of Brevo's times; ts_event and ts are seconds.
        // Some events (proxy opens) carry only `date`, in the account's time zone: not used.
        let occurredAt =
            EventTime.milliseconds(object.double("ts_epoch"), receivedAt: receivedAt)
            ?? EventTime.seconds(object.double("ts_event") ?? object.double("ts"), receivedAt: receivedAt)
        let (type, bounceClass, rejectReason) = classify(name)
        var event = EmailEvent(
            provider: .brevo, source: source, type: type, espEvent: name,
            eventKey: EventKey.derived([
                name, object.text("message-id"), object.text("email")?.lowercased(), object.string("ts_epoch") ?? object.string("ts_event"),
                object.text("link"),
            ]),
            occurredAt: occurredAt, receivedAt: receivedAt, raw: raw
        )
        event.messageId = object.text("message-id")
        event.rfcMessageId = event.messageId.map(stripAngleBrackets)
        event.setRecipient(object.text("email"))
        event.setSender(object.text("sender_email") ?? object.text("from"))
        event.bounceClass = bounceClass
        event.rejectReason = rejectReason
        // `reason` has no fixed format (" RecipientError: 550 …", "blocked : due to …"): kept, not parsed.
        event.mtaResponse = object.text("reason")
        event.tags = tags(object)
        event.metadata = object.text("X-Mailin-custom").flatMap { JSONObject.parse(Array($0.utf8))?.textMap() } ?? [:]
        event.campaign = event.metadata["campaign"]
        event.clickURL = object.text("link")
        event.userAgent = object.text("user_agent")
        event.ip = object.text("ip")
        event.isFirst =
            ["unique_opened", "unique_proxy_open"].contains(name) ? true : (["opened", "proxy_open"].contains(name) ? false : nil)
        event.isMachineOpen =
            ["proxy_open", "unique_proxy_open"].contains(name) ? true : (["opened", "unique_opened"].contains(name) ? false : nil)
        // Brevo says a proxy loaded the pixel by the event's name itself.
        if event.isMachineOpen == true { event.machineFlag = name }
        return event
    }

    /// `tags` (an array), else `tag`: an array, a string holding a JSON array, or one tag.
    static func tags(_ object: JSONObject) -> [String] {
        if object.array("tags") != nil { return object.strings("tags") }
        if object.array("tag") != nil { return object.strings("tag") }
        guard let tag = object.text("tag") else { return [] }
        if tag.hasPrefix("["), let list = JSONObject.parseValue(Array(tag.utf8)) as? [Any] { return list.compactMap { $0 as? String } }
        return [tag]
    }

    static func classify(_ name: String) -> (EventType, BounceClass?, RejectReason?) {
        switch name {
        case "request": (.queued, nil, nil)
        case "delivered": (.delivered, nil, nil)
        case "deferred": (.deferred, .soft, nil)
        case "soft_bounce": (.bounced, .soft, nil)
        case "hard_bounce": (.bounced, .hard, nil)
        case "invalid_email": (.bounced, .hard, nil)
        case "blocked": (.rejected, nil, .blocked)
        case "spam", "complaint": (.complained, nil, nil)
        case "opened", "unique_opened", "proxy_open", "unique_proxy_open": (.opened, nil, nil)
        case "click": (.clicked, nil, nil)
        case "unsubscribe", "unsubscribed": (.unsubscribed, nil, nil)
        case "error": (.failed, nil, nil)
        case "list_addition": (.subscribed, nil, nil)
        default: (.unknown, nil, nil)
        }
    }
}
