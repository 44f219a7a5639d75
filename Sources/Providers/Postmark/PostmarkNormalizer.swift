import EmailEvents
import Foundation

/// Postmark (docs/PROVIDERS.md §4): one JSON event per request, discriminated by `RecordType`.
/// Postmark does not sign webhooks: configure basic auth in the URL (or a bearer header) and give
/// Postwire the same `user:password`. Served by ``CredentialedJSONProvider/postmark``.
///
/// Maps one Postmark record onto ``EmailEvent`` (docs/PROVIDERS.md §4.2 and §14.3).
enum PostmarkNormalizer {
    /// The message id of the test records Postmark's "Test" button posts (a bounce with `"ID": 42`):
    /// no real message has it.
    static let testMessageId = "00000000-0000-0000-0000-000000000000"

    /// nil for Postmark's test post.
    static func normalize(_ object: JSONObject, raw: [UInt8], source: String, receivedAt: Date) throws(WebhookError) -> EmailEvent? {
        guard let recordType = object.text("RecordType") else {
            throw WebhookError(.malformed, "no RecordType (an inbound-message webhook sent to the events URL?)")
        }
        let timeText = ["DeliveredAt", "BouncedAt", "ReceivedAt", "ChangedAt"].lazy.compactMap { object.text($0) }.first
        let occurredAt = EventTime.checked(timeText.flatMap(ISO8601.parse), receivedAt: receivedAt)
        let messageId = (object.anyCase("MessageID") as? String).flatMap { $0.isEmpty ? nil : $0 }
        if messageId == testMessageId { return nil }
        let recipient = object.text("Recipient") ?? object.text("Email")
        let bounceType = object.text("Type")
        let (type, bounceClass, rejectReason) = classify(recordType, bounceType: bounceType, object: object)
        // Bounce records carry an id; other records are identified by what they describe.
        let key: String
        if ["Bounce", "SpamComplaint"].contains(recordType), let id = object.string("ID") {
            key = "\(recordType):\(id)"
        } else {
            key = EventKey.derived([recordType, messageId, recipient?.lowercased(), timeText, object.text("OriginalLink")])
        }
        var event = EmailEvent(
            provider: .postmark, source: source, type: type,
            espEvent: bounceType.map { "\(recordType)/\($0)" } ?? recordType, eventKey: key,
            occurredAt: occurredAt, receivedAt: receivedAt, raw: raw
        )
        event.messageId = messageId
        event.setRecipient(recipient)
        event.setSender(object.text("From"))
        event.bounceClass = bounceClass
        // Only a refusal to send has a reject reason; bounces and complaints say it by their type.
        event.rejectReason = type == .rejected ? rejectReason : nil
        event.mtaResponse = object.text("Details")
        event.smtpCode = event.mtaResponse.flatMap(SMTPText.code(in:))
        event.description = object.text("Description") ?? object.text("SuppressionReason")
        event.tags = object.text("Tag").map { [$0] } ?? []
        event.metadata = object.object("Metadata")?.textMap() ?? [:]
        event.campaign = event.metadata["campaign"]
        event.clickURL = object.text("OriginalLink")
        event.userAgent = object.text("UserAgent")
        event.ip = object.object("Geo")?.text("IP")
        event.isFirst = recordType == "Open" ? object.bool("FirstOpen") : nil
        return event
    }

    /// RecordType and bounce Type → (type, bounce class, reject reason), as in anymail.
    static func classify(_ recordType: String, bounceType: String?, object: JSONObject) -> (EventType, BounceClass?, RejectReason?) {
        switch recordType {
        case "Delivery": return (.delivered, nil, nil)
        case "Open": return (.opened, nil, nil)
        case "Click": return (.clicked, nil, nil)
        case "SpamComplaint": return (.complained, nil, .spam)
        case "SubscriptionChange":
            guard object.bool("SuppressSending") == true else { return (.subscribed, nil, nil) }
            switch object.text("SuppressionReason") {
            case "HardBounce": return (.bounced, .hard, .bounced)
            case "SpamComplaint": return (.complained, nil, .spam)
            default: return (.unsubscribed, nil, .unsubscribed)
            }
        case "Bounce":
            switch bounceType ?? "" {
            case "HardBounce": return (.bounced, .hard, .bounced)
            case "SoftBounce": return (.bounced, .soft, .bounced)
            case "Transient", "DnsError", "OpenRelayTest": return (.deferred, .soft, nil)
            case "Unsubscribe": return (.unsubscribed, nil, .unsubscribed)
            case "Subscribe": return (.subscribed, nil, nil)
            case "AutoResponder", "AddressChange", "ChallengeVerification": return (.autoresponded, nil, nil)
            case "SpamNotification", "SpamComplaint": return (.complained, nil, .spam)
            case "VirusNotification": return (.bounced, .undetermined, .other)
            case "BadEmailAddress": return (.rejected, nil, .invalid)
            case "ManuallyDeactivated", "Blocked", "DMARCPolicy": return (.rejected, .block, .blocked)
            case "Unconfirmed": return (.rejected, nil, .other)
            case "SMTPApiError", "TemplateRenderingFailed": return (.failed, nil, nil)
            default: return (.unknown, nil, nil)
            }
        default:
            return (.unknown, nil, nil)
        }
    }
}
