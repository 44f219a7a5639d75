import Crypto
import EmailEvents
import Foundation
import Providers

/// Samples for the ESPs that authenticate with HTTP credentials (Postmark, SparkPost, Brevo,
/// Mailjet): the `Authorization` header they would send for `secret` (`user:password` → Basic,
/// anything else → Bearer).
extension SampleWebhooks {
    public static let postmarkEvents: [(String, [String: String])] = [
        ("Delivery", [:]), ("Bounce", ["Type": "HardBounce"]), ("Bounce", ["Type": "Transient"]), ("SpamComplaint", [:]),
        ("Open", [:]), ("Click", [:]), ("SubscriptionChange", ["SuppressSending": "true"]),
        ("SubscriptionChange", ["SuppressSending": "false"]),
    ]
    public static let sparkpostEvents: [(String, [String: String])] = [
        ("injection", [:]), ("delivery", [:]), ("bounce", ["bounce_class": "10"]), ("delay", [:]), ("policy_rejection", [:]),
        ("open", [:]), ("click", [:]), ("spam_complaint", [:]), ("list_unsubscribe", [:]),
    ]
    public static let brevoEvents: [(String, [String: String])] = [
        ("request", [:]), ("delivered", [:]), ("deferred", [:]), ("soft_bounce", [:]), ("hard_bounce", [:]), ("blocked", [:]),
        ("spam", [:]), ("unique_opened", [:]), ("opened", [:]), ("click", [:]), ("unsubscribed", [:]), ("error", [:]),
    ]
    public static let mailjetEvents: [(String, [String: String])] = [
        ("sent", [:]), ("open", [:]), ("click", [:]), ("bounce", ["hard_bounce": "true"]), ("blocked", [:]), ("spam", [:]), ("unsub", [:]),
    ]

    static func credentialHeaders(_ secret: String) -> [String: String] {
        let value = secret.contains(":") ? "Basic " + Data(secret.utf8).base64EncodedString() : "Bearer " + secret
        return ["content-type": "application/json", "authorization": value]
    }

    static func iso(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    public static func postmark(_ event: SampleEvent, secret: String) -> SignedWebhook {
        var body: [String: Any] = [
            "RecordType": event.espEvent, "MessageID": event.id, "Recipient": event.recipient, "Tag": "postwire-test",
            "Metadata": event.campaign.map { ["campaign": $0] } ?? [:], "MessageStream": "outbound",
        ]
        let time = iso(event.occurredAt)
        switch event.espEvent {
        case "Delivery": body["DeliveredAt"] = time; body["Details"] = "smtp;250 2.0.0 OK"
        case "Bounce", "SpamComplaint":
            body["ID"] = Int.random(in: 1..<Int(Int32.max))
            body["Type"] = event.extra["Type"] ?? "SpamComplaint"
            body["Email"] = event.recipient
            body["BouncedAt"] = time
            body["Details"] = "smtp;550 5.1.1 The email account does not exist"
        case "SubscriptionChange":
            body["ChangedAt"] = time
            body["SuppressSending"] = event.extra["SuppressSending"] == "true"
            body["SuppressionReason"] = "ManualSuppression"
        case "Click": body["ReceivedAt"] = time; body["OriginalLink"] = "https://postwire.test/welcome"; body["UserAgent"] = "Mozilla/5.0"
        default: body["ReceivedAt"] = time; body["FirstOpen"] = true; body["UserAgent"] = "Mozilla/5.0"
        }
        return SignedWebhook(headers: credentialHeaders(secret), body: serialize(body))
    }

    public static func sparkpost(_ events: [SampleEvent], secret: String) -> SignedWebhook {
        let elements: [[String: Any]] = events.map { event in
            let eventClass =
                ["open", "click"].contains(event.espEvent)
                ? "track_event" : event.espEvent.hasSuffix("unsubscribe") ? "unsubscribe_event" : "message_event"
            var fields: [String: Any] = [
                "type": event.espEvent, "event_id": event.id, "timestamp": String(Int(event.occurredAt.timeIntervalSince1970)),
                "rcpt_to": event.recipient.lowercased(), "raw_rcpt_to": event.recipient, "transmission_id": String(event.id.hash.magnitude),
                "message_id": event.id, "friendly_from": "news@postwire.test", "rcpt_tags": ["postwire-test"],
                "rcpt_meta": event.campaign.map { ["campaign": $0] } ?? [:],
            ]
            for (key, value) in event.extra { fields[key] = value }
            if ["bounce", "delay", "policy_rejection"].contains(event.espEvent) {
                fields["raw_reason"] = "550 5.1.1 No such user"
                fields["error_code"] = "550"
                fields["bounce_class"] = event.extra["bounce_class"] ?? "25"
            }
            if event.espEvent == "click" { fields["target_link_url"] = "https://postwire.test/welcome" }
            return ["msys": [eventClass: fields]]
        }
        return SignedWebhook(headers: credentialHeaders(secret), body: serialize(elements))
    }

    public static func brevo(_ event: SampleEvent, secret: String) -> SignedWebhook {
        var body: [String: Any] = [
            "event": event.espEvent, "email": event.recipient, "id": 1, "message-id": "<\(event.id)@smtp-relay.postwire.test>",
            "ts_epoch": Int64(event.occurredAt.timeIntervalSince1970 * 1000), "ts": Int(event.occurredAt.timeIntervalSince1970),
            "tags": ["postwire-test"], "X-Mailin-custom": event.campaign.map { #"{"campaign":"\#($0)"}"# } ?? "",
        ]
        if ["soft_bounce", "hard_bounce", "blocked", "deferred"].contains(event.espEvent) { body["reason"] = "550 5.1.1 No such user" }
        if event.espEvent == "click" { body["link"] = "https://postwire.test/welcome" }
        return SignedWebhook(headers: credentialHeaders(secret), body: serialize(body))
    }

    public static func mailjet(_ event: SampleEvent, secret: String) -> SignedWebhook {
        var body: [String: Any] = [
            "event": event.espEvent, "time": Int(event.occurredAt.timeIntervalSince1970), "email": event.recipient,
            // A 64-bit id beyond 2^53, as Mailjet's are.
            "MessageID": Int64(1) << 60 + Int64(event.id.hash.magnitude % 1_000_000_000),
            "Payload": event.campaign.map { #"{"campaign":"\#($0)"}"# } ?? "", "customcampaign": "postwire-test",
        ]
        for (key, value) in event.extra { body[key] = value == "true" ? true as Any : (value == "false" ? false as Any : value as Any) }
        switch event.espEvent {
        case "sent": body["smtp_reply"] = "sent (250 2.0.0 OK)"
        case "bounce": body["error_related_to"] = "recipient"; body["error"] = "user unknown"
        case "blocked": body["error_related_to"] = "recipient"; body["error"] = "blacklisted"
        case "click": body["url"] = "https://postwire.test/welcome"; body["agent"] = "Mozilla/5.0"; body["ip"] = "203.0.113.7"
        case "open": body["agent"] = "Mozilla/5.0"; body["ip"] = "203.0.113.7"
        default: break
        }
        return SignedWebhook(headers: credentialHeaders(secret), body: serialize(body))
    }
}
