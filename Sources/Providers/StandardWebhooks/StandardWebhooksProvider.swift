import EmailEvents
import Foundation

/// Any sender that follows the Standard Webhooks spec (docs/PROVIDERS.md §12) with the recommended
/// payload `{"type": "a.b", "timestamp": "<ISO 8601>", "data": {…}}`. The type is taken from the
/// first dot-separated part of `type` that names one of our event types (`email.delivered` →
/// delivered, `message.bounced` → bounced); anything else is `unknown`, never dropped.
public struct StandardWebhooksProvider: WebhookProvider {
    public var provider: Provider { .standardwebhooks }
    public var defaultReplayWindow: Int { 300 }

    public init() {}

    public func unusableSecret(_ secret: String) -> String? { StandardWebhooksSignature.unusable(secret) }

    public func authenticate(
        _ request: WebhookRequest, credentials: SourceCredentials, now: Date
    ) async throws(WebhookError) -> Authentication {
        let id = try StandardWebhooksSignature.verify(request, credentials: credentials, now: now)
        return Authentication(replayNonce: id.map { "standardwebhooks:\($0)" }, deliveryId: id)
    }

    public func normalize(_ request: WebhookRequest, _ authentication: Authentication, source: String) -> ReceivedWebhook {
        ElementNormalizer.single(request, deliveryId: authentication.deliveryId) { body throws(WebhookError) in
            [try Self.event(body, request, id: authentication.deliveryId, source: source)]
        }
    }

    static func event(_ body: JSONObject, _ request: WebhookRequest, id: String?, source: String) throws(WebhookError) -> EmailEvent {
        guard let name = body.text("type") else { throw WebhookError(.malformed, "body has no type") }
        let headerTime = (request.headers["webhook-timestamp"] ?? request.headers["svix-timestamp"]).flatMap(Double.init)
        let occurredAt =
            EventTime.checked(body.text("timestamp").flatMap(ISO8601.parse), receivedAt: request.receivedAt)
            ?? EventTime.seconds(headerTime, receivedAt: request.receivedAt)
        let type = name.split(separator: ".").lazy.compactMap { EventType(rawValue: String($0)) }.first ?? .unknown
        var event = EmailEvent(
            provider: .standardwebhooks, source: source, type: type, espEvent: name,
            eventKey: id ?? EventKey.derived([name, body.text("timestamp"), JSONObject.textValue(body["data"] ?? "")]),
            occurredAt: occurredAt, receivedAt: request.receivedAt, raw: request.body
        )
        let data = body.object("data")
        event.messageId = data?.text("message_id") ?? data?.text("email_id")
        event.setRecipient(data?.text("recipient") ?? data?.text("email") ?? data?.strings("to").first)
        event.setSender(data?.text("from"))
        return event
    }
}
