import EmailEvents
import Foundation

/// Resend (docs/PROVIDERS.md §10), delivered by Svix with Standard Webhooks signatures. One event
/// per request; the `svix-id` is stable across retries, so it is the event key and the replay nonce.
public struct ResendProvider: WebhookProvider {
    public var provider: Provider { .resend }
    public var defaultReplayWindow: Int { 300 }

    public init() {}

    public func unusableSecret(_ secret: String) -> String? { StandardWebhooksSignature.unusable(secret) }

    public func authenticate(
        _ request: WebhookRequest, credentials: SourceCredentials, now: Date
    ) async throws(WebhookError) -> Authentication {
        let id = try StandardWebhooksSignature.verify(request, credentials: credentials, now: now)
        return Authentication(replayNonce: id.map { "resend:\($0)" }, deliveryId: id)
    }

    public func normalize(_ request: WebhookRequest, _ authentication: Authentication, source: String) -> ReceivedWebhook {
        ElementNormalizer.single(request, deliveryId: authentication.deliveryId) { body throws(WebhookError) in
            [
                try ResendNormalizer.normalize(
                    body, raw: request.body, id: authentication.deliveryId, source: source, receivedAt: request.receivedAt)
            ]
        }
    }
}

/// Maps a Resend event onto ``EmailEvent`` (docs/PROVIDERS.md §10, §13.1 and §14.3).
enum ResendNormalizer {
    static func normalize(
        _ body: JSONObject, raw: [UInt8], id: String?, source: String, receivedAt: Date
    ) throws(WebhookError) -> EmailEvent {
        guard let name = body.text("type") else { throw WebhookError(.malformed, "body has no type") }
        let time = body.text("created_at")
        let occurredAt = EventTime.checked(time.flatMap(ISO8601.parse), receivedAt: receivedAt)
        let data = body.object("data")
        let key = id ?? EventKey.derived([name, data?.text("email_id"), time])
        var event = EmailEvent(
            provider: .resend, source: source, type: type(of: name), espEvent: name, eventKey: key,
            occurredAt: occurredAt, receivedAt: receivedAt, raw: raw
        )
        event.messageId = data?.text("email_id")
        event.setRecipient(data?.strings("to").first ?? data?.text("email"))
        event.setSender(data?.text("from"))
        if let bounce = data?.object("bounce") {
            let kind = bounce.text("type")
            event.bounceClass = kind == "Permanent" ? .hard : kind == "Transient" ? .soft : .undetermined
            event.description = bounce.text("message")
            event.mtaResponse = (bounce.array("diagnosticCode") as? [String])?.first ?? bounce.text("diagnosticCode")
            event.smtpCode = event.mtaResponse.flatMap(SMTPText.code(in:))
        }
        if event.type == .deferred { event.bounceClass = .soft }
        if name == "email.suppressed" {
            event.rejectReason = .blocked
            event.description = data?.object("suppressed")?.text("message")
        }
        if name == "email.failed" { event.description = data?.object("failed")?.text("reason") }
        if let click = data?.object("click") {
            event.clickURL = click.text("link")
            event.userAgent = click.text("userAgent")
            event.ip = click.text("ipAddress")
        }
        // Resend's tags are name/value pairs: metadata, not a list of labels.
        event.metadata = metadata(data?["tags"])
        event.campaign = event.metadata["campaign"] ?? data?.text("broadcast_id")
        return event
    }

    static func type(of name: String) -> EventType {
        switch name {
        case "email.scheduled": .queued
        case "email.sent": .sent
        case "email.delivered": .delivered
        case "email.delivery_delayed": .deferred
        case "email.bounced": .bounced
        case "email.complained": .complained
        case "email.opened": .opened
        case "email.clicked": .clicked
        case "email.failed": .failed
        case "email.suppressed": .rejected
        default: .unknown
        }
    }

    /// Resend sends tags as a `{name: value}` map or as `[{"name":…,"value":…}]`.
    static func metadata(_ value: Any?) -> [String: String] {
        if let map = JSONObject(value) { return map.textMap() }
        var result: [String: String] = [:]
        for item in (value as? [Any]) ?? [] {
            if let tag = JSONObject(item), let name = tag.text("name") { result[name] = tag.string("value") ?? "" }
        }
        return result
    }
}
