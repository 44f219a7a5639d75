import Crypto
import EmailEvents
import Foundation

/// MailerSend (docs/PROVIDERS.md §11): one event per request, `Signature` header = hex
/// HMAC-SHA256(signing secret, raw body). The body escapes slashes (`\/`), which is why only the
/// raw bytes can be verified.
public struct MailerSendProvider: WebhookProvider {
    public var provider: Provider { .mailersend }

    public init() {}

    public func authenticate(
        _ request: WebhookRequest, credentials: SourceCredentials, now: Date
    ) async throws(WebhookError) -> Authentication {
        try verify(request, credentials: credentials)
        return Authentication()
    }

    public func normalize(_ request: WebhookRequest, _ authentication: Authentication, source: String) -> ReceivedWebhook {
        ElementNormalizer.single(request) { body throws(WebhookError) in
            [try MailerSendNormalizer.normalize(body, raw: request.body, source: source, receivedAt: request.receivedAt)]
        }
    }

    private func verify(_ request: WebhookRequest, credentials: SourceCredentials) throws(WebhookError) {
        if credentials.secrets.isEmpty && credentials.allowUnauthenticated { return }
        guard let signature = request.headers["signature"] else { throw WebhookError(.missingCredentials, "no Signature header") }
        guard let mac = Hex.decode(signature.trimmed), mac.count == SHA256.byteCount else {
            throw WebhookError(.badSignature, "Signature is not a hex HMAC-SHA256")
        }
        let valid = credentials.secrets.contains { secret in
            HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: request.body, using: SymmetricKey(data: Data(secret.utf8)))
        }
        guard valid else { throw WebhookError(.badSignature, "signature does not match any configured signing secret") }
    }
}

/// Maps a MailerSend activity onto ``EmailEvent`` (docs/PROVIDERS.md §11 and §14.3).
enum MailerSendNormalizer {
    static func normalize(_ body: JSONObject, raw: [UInt8], source: String, receivedAt: Date) throws(WebhookError) -> EmailEvent {
        guard let name = body.text("type") else { throw WebhookError(.malformed, "body has no type") }
        let data = body.object("data")
        let time = data?.text("created_at") ?? body.text("created_at")
        let occurredAt = EventTime.checked(time.flatMap(ISO8601.parse), receivedAt: receivedAt)
        let email = data?.object("email")
        let morph = data?.object("morph")
        // Webhook version 2 nests `email` and `morph`; version 1 is flat (`message_id`, `email` a string).
        let messageId = email?.object("message")?.string("id") ?? data?.string("message_id")
        let key = data?.string("id") ?? EventKey.derived([name, messageId, time])
        let (type, bounceClass, isFirst) = classify(name)
        var event = EmailEvent(
            provider: .mailersend, source: source, type: type, espEvent: name, eventKey: key,
            occurredAt: occurredAt, receivedAt: receivedAt, raw: raw
        )
        event.messageId = messageId
        event.setRecipient(email?.object("recipient")?.text("email") ?? data?.text("email") ?? data?.object("recipient")?.text("email"))
        event.setSender(email?.text("from"))
        event.bounceClass = bounceClass
        event.isFirst = isFirst
        event.description = morph?.text("readable_reason") ?? morph?.text("reason")
        event.mtaResponse = morph?.text("reason")
        event.smtpCode = event.mtaResponse.flatMap(SMTPText.leadingCode)
        event.tags = email?.strings("tags") ?? data?.strings("tags") ?? []
        event.clickURL = morph?.text("url")
        event.ip = morph?.text("ip")
        event.userAgent = morph?.text("user_agent") ?? morph?.text("userAgent")
        return event
    }

    /// `activity.<type>` → (type, bounce class, is-first). Unique opens and clicks are the first
    /// ones, and are counted as opens and clicks.
    static func classify(_ name: String) -> (EventType, BounceClass?, Bool?) {
        switch name.hasPrefix("activity.") ? String(name.dropFirst("activity.".count)) : name {
        case "sent": (.sent, nil, nil)
        case "delivered": (.delivered, nil, nil)
        case "soft_bounced": (.bounced, .soft, nil)
        case "hard_bounced": (.bounced, .hard, nil)
        case "deferred": (.deferred, .soft, nil)
        case "opened": (.opened, nil, false)
        case "opened_unique": (.opened, nil, true)
        case "clicked": (.clicked, nil, false)
        case "clicked_unique": (.clicked, nil, true)
        case "unsubscribed": (.unsubscribed, nil, nil)
        case "spam_complaint": (.complained, nil, nil)
        default: (.unknown, nil, nil)
        }
    }
}
