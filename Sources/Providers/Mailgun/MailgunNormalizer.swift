import EmailEvents
import Foundation

/// Maps Mailgun's `event-data` onto ``EmailEvent`` (docs/PROVIDERS.md §3.3 and §14.3).
enum MailgunNormalizer {
    static func normalize(_ data: JSONObject, raw: [UInt8], source: String, receivedAt: Date) throws(WebhookError) -> EmailEvent {
        guard let name = data.text("event") else { throw WebhookError(.malformed, "event-data has no event") }
        let occurredAt = EventTime.seconds(data.double("timestamp"), receivedAt: receivedAt)
        let status = data.object("delivery-status")
        let headers = data.object("message")?.object("headers")

        // The id is unique only within a day, so the key carries the event's own time. Without an id
        // or a usable time, the event's own bytes identify it: Mailgun's retries repeat them.
        let key =
            if let id = data.text("id"), let occurredAt { "\(id):\(occurredAt.unixMicroseconds)" } else { EventKey.content(raw) }
        var event = EmailEvent(
            provider: .mailgun, source: source, type: type(of: name, data),
            espEvent: name, eventKey: key, occurredAt: occurredAt, receivedAt: receivedAt, raw: raw
        )
        event.messageId = headers?.text("message-id")
        event.rfcMessageId = event.messageId.map(stripAngleBrackets)
        event.setRecipient(data.text("recipient") ?? headers?.text("to"))
        event.setSender(data.object("envelope")?.text("sender") ?? headers?.text("from"))
        event.smtpCode = status?.int("code")
        event.enhancedStatus = status?.text("enhanced-code")
        event.mtaResponse = status?.text("message")
        event.description = status?.text("description") ?? data.object("reject")?.text("description")
        event.tags = data.strings("tags")
        event.metadata = metadata(data.object("user-variables"))
        event.campaign = event.metadata["campaign"] ?? firstCampaign(data)
        event.clickURL = data.text("url")
        event.userAgent = data.object("client-info")?.text("user-agent")
        // Mailgun's bot detection on opens and clicks: `apple` (Mail Privacy Protection), `gmail`,
        // `generic` (a firewall or virus scanner); empty when it saw a person (docs/PROVIDERS.md §1).
        if let bot = data.object("client-info")?.text("bot") {
            event.machineFlag = "client-info.bot=\(bot.prefix(64))"
            if name == "opened" { event.isMachineOpen = true }
        } else if name == "opened", data.object("client-info")?.string("bot") != nil {
            event.isMachineOpen = false
        }
        // The reader's address (opens, clicks, unsubscribes); `envelope.sending-ip` is Mailgun's own.
        event.ip = data.text("ip")
        classify(&event, name: name, data: data)
        return event
    }

    static func type(of name: String, _ data: JSONObject) -> EventType {
        switch name {
        case "accepted": .queued
        case "rejected": .rejected
        case "delivered": .delivered
        case "failed": data.text("severity") == "temporary" ? .deferred : .bounced
        case "opened": .opened
        case "clicked": .clicked
        case "unsubscribed": .unsubscribed
        case "complained": .complained
        default: .unknown
        }
    }

    /// Bounce class and reject reason. A `failed` whose reason is `suppress-*` is Mailgun refusing
    /// to send to a suppressed address: a rejection, not a bounce from a receiving server.
    private static func classify(_ event: inout EmailEvent, name: String, data: JSONObject) {
        let reason = data.text("reason")
        switch (name, event.type) {
        case ("failed", .deferred):
            event.bounceClass = .soft
        case ("failed", _):
            if let reason, reason.hasPrefix("suppress-") {
                event.type = .rejected
                event.rejectReason =
                    reason == "suppress-bounce"
                    ? .bounced
                    : reason == "suppress-complaint"
                        ? .spam
                        : reason == "suppress-unsubscribe" ? .unsubscribed : .other
            } else {
                event.bounceClass = .hard
            }
        case ("rejected", _):
            event.rejectReason = .other
            event.description = data.object("reject")?.text("reason") ?? event.description
        default:
            break
        }
    }

    private static func metadata(_ variables: JSONObject?) -> [String: String] {
        guard let variables else { return [:] }
        var result: [String: String] = [:]
        for (key, value) in variables.storage {
            result[key] = JSONObject.textValue(value)
        }
        return result
    }

    /// Mailgun's (legacy) campaigns: `[{"id": …, "name": …}]`.
    private static func firstCampaign(_ data: JSONObject) -> String? {
        guard let first = data.array("campaigns")?.first.flatMap(JSONObject.init) else { return nil }
        return first.text("name") ?? first.text("id")
    }
}

func stripAngleBrackets(_ id: String) -> String {
    var text = Substring(id.trimmed)
    if text.hasPrefix("<") { text = text.dropFirst() }
    if text.hasSuffix(">") { text = text.dropLast() }
    return String(text)
}
