import Crypto
import EmailEvents
import Foundation
import Providers
import WebhookSigning

/// Samples for the ESPs that sign with a shared secret (MailerSend, Resend, Standard Webhooks,
/// Mandrill), signed as they would sign them, and for Amazon SES (unsigned: only AWS can sign
/// SNS messages, so these work only with a source marked `allowUnauthenticated`).
extension SampleWebhooks {
    public static let mailersendEvents: [(String, [String: String])] = [
        ("activity.sent", [:]), ("activity.delivered", [:]), ("activity.soft_bounced", [:]), ("activity.hard_bounced", [:]),
        ("activity.opened", [:]), ("activity.opened_unique", [:]), ("activity.clicked", [:]), ("activity.clicked_unique", [:]),
        ("activity.unsubscribed", [:]), ("activity.spam_complaint", [:]),
    ]
    public static let resendEvents: [(String, [String: String])] = [
        ("email.sent", [:]), ("email.delivered", [:]), ("email.delivery_delayed", [:]), ("email.bounced", [:]),
        ("email.complained", [:]), ("email.opened", [:]), ("email.clicked", [:]), ("email.failed", [:]), ("email.suppressed", [:]),
    ]
    public static let mandrillEvents: [(String, [String: String])] = [
        ("send", [:]), ("deferral", [:]), ("hard_bounce", [:]), ("soft_bounce", [:]), ("open", [:]), ("click", [:]), ("spam", [:]),
        ("unsub", [:]), ("reject", [:]),
    ]
    public static let sesEvents: [(String, [String: String])] = [
        ("Send", [:]), ("Delivery", [:]), ("Bounce", ["bounceType": "Permanent"]), ("Bounce", ["bounceType": "Transient"]),
        ("Complaint", [:]), ("Reject", [:]), ("Open", [:]), ("Click", [:]), ("DeliveryDelay", [:]),
    ]

    public static func mailersend(_ event: SampleEvent, secret: String) -> SignedWebhook {
        let kind = String(event.espEvent.dropFirst("activity.".count))
        var morph: [String: Any]? = nil
        if kind.hasSuffix("bounced") { morph = ["object": "recipient_bounce", "reason": "550 5.1.1 No such user"] }
        if kind.hasPrefix("clicked") { morph = ["object": "click", "url": "https://postwire.test/welcome", "ip": "203.0.113.7"] }
        if kind.hasPrefix("opened") { morph = ["object": "open", "ip": "203.0.113.7"] }
        let body: [String: Any] = [
            "type": event.espEvent, "created_at": iso(event.occurredAt),
            "data": [
                "object": "activity", "id": event.id, "type": kind, "created_at": iso(event.occurredAt),
                "email": [
                    "from": "news@postwire.test", "tags": ["postwire-test"], "message": ["id": "msg-\(event.id)"],
                    "recipient": ["email": event.recipient],
                ] as [String: Any],
                "morph": morph ?? NSNull(),
            ] as [String: Any],
        ]
        let bytes = serialize(body)
        let mac = HMAC<SHA256>.authenticationCode(for: bytes, using: SymmetricKey(data: Data(secret.utf8)))
        return SignedWebhook(headers: ["content-type": "application/json", "signature": Hex.encode(mac)], body: bytes)
    }

    /// Resend (svix-* headers) or any Standard Webhooks sender (webhook-* headers).
    public static func standardWebhook(
        _ event: SampleEvent, secret: String, signedAt: Date, headerPrefix: String = "svix-"
    ) -> SignedWebhook {
        var data: [String: Any] = [
            "email_id": "email-\(event.id)", "from": "news@postwire.test", "to": [event.recipient], "subject": "Postwire test",
            "created_at": iso(event.occurredAt), "tags": event.campaign.map { ["campaign": $0] } ?? [:],
        ]
        switch event.espEvent {
        case "email.bounced":
            data["bounce"] = [
                "type": "Permanent", "message": "The address does not exist", "diagnosticCode": ["smtp; 550 5.1.1 user unknown"],
            ]
        case "email.clicked":
            data["click"] = ["link": "https://postwire.test/welcome", "ipAddress": "203.0.113.7", "userAgent": "Mozilla/5.0"]
        default: break
        }
        let body = serialize([
            "type": event.espEvent, "created_at": iso(event.occurredAt), "timestamp": iso(event.occurredAt), "data": data,
        ])
        let id = "msg_\(event.id.replacingOccurrences(of: "-", with: ""))"
        let timestamp = String(Int(signedAt.timeIntervalSince1970))
        let key = StandardWebhooksHMAC.key(secret) ?? SymmetricKey(data: Data(secret.utf8))
        let signature = StandardWebhooksHMAC.signature(
            StandardWebhooksHMAC.signedContent(id: id, timestamp: timestamp, body: body), key: key)
        return SignedWebhook(
            headers: [
                "content-type": "application/json", headerPrefix + "id": id, headerPrefix + "timestamp": timestamp,
                headerPrefix + "signature": signature,
            ],
            body: body
        )
    }

    /// A Mandrill batch signed for `url`, which must be the source's configured `url`.
    public static func mandrill(_ events: [SampleEvent], key: String, url: String) -> SignedWebhook {
        let list: [[String: Any]] = events.map { event in
            var object: [String: Any] = [
                "event": event.espEvent, "_id": event.id, "ts": Int(event.occurredAt.timeIntervalSince1970),
                "msg": [
                    "_id": event.id, "email": event.recipient, "sender": "news@postwire.test", "tags": ["postwire-test"],
                    "metadata": event.campaign.map { ["campaign": $0] } ?? [:],
                    "diag": ["hard_bounce", "soft_bounce", "deferral"].contains(event.espEvent) ? "550 5.1.1 No such user" : "",
                ] as [String: Any],
            ]
            if event.espEvent == "click" { object["url"] = "https://postwire.test/welcome" }
            if ["open", "click"].contains(event.espEvent) { object["ip"] = "203.0.113.7"; object["user_agent"] = "Mozilla/5.0" }
            return object
        }
        let json = String(decoding: serialize(list), as: UTF8.self)
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let body = "mandrill_events=" + (json.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")
        let mac = HMAC<Insecure.SHA1>.authenticationCode(
            for: Data((url + "mandrill_events" + json).utf8), using: SymmetricKey(data: Data(key.utf8)))
        return SignedWebhook(
            headers: ["content-type": "application/x-www-form-urlencoded", "x-mandrill-signature": Data(mac).base64EncodedString()],
            body: Array(body.utf8)
        )
    }

    /// An SNS Notification carrying an SES event, with no valid signature (see above).
    public static func ses(_ event: SampleEvent, topicArn: String) -> SignedWebhook {
        let time = iso(event.occurredAt)
        let body: [String: Any] = [
            "Type": "Notification", "MessageId": event.id, "TopicArn": topicArn,
            "Message": String(decoding: serialize(sesRecord(event)), as: UTF8.self), "Timestamp": time, "SignatureVersion": "2",
            "Signature": Data("unsigned".utf8).base64EncodedString(),
            "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-unsigned.pem",
        ]
        return SignedWebhook(
            headers: ["content-type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "Notification"], body: serialize(body))
    }

    /// The EventBridge event an API destination POSTs for a sample SES event, with the API key an
    /// API-key connection sends.
    public static func sesEventBridge(_ event: SampleEvent, apiKey: String) -> SignedWebhook {
        let detailTypes = [
            "Send": "Email Sent", "Delivery": "Email Delivered", "Bounce": "Email Bounced", "Complaint": "Email Complaint Received",
            "Reject": "Email Rejected", "Open": "Email Opened", "Click": "Email Clicked", "DeliveryDelay": "Email Delivery Delayed",
        ]
        let body: [String: Any] = [
            "version": "0", "id": event.id, "detail-type": detailTypes[event.espEvent] ?? "Email Sent", "source": "aws.ses",
            "account": "123456789012", "time": iso(event.occurredAt), "region": "us-east-1", "resources": [String](),
            "detail": sesRecord(event),
        ]
        return SignedWebhook(
            headers: [
                "content-type": "application/json; charset=utf-8", "user-agent": "Amazon/EventBridge/ApiDestinations",
                "x-api-key": apiKey,
            ], body: serialize(body))
    }

    /// The SES event record (what SNS carries in `Message` and EventBridge in `detail`).
    static func sesRecord(_ event: SampleEvent) -> [String: Any] {
        let time = iso(event.occurredAt)
        var ses: [String: Any] = [
            "eventType": event.espEvent,
            "mail": [
                "timestamp": time, "messageId": "ses-\(event.id)", "source": "news@postwire.test", "destination": [event.recipient],
                "tags": event.campaign.map { ["campaign": [$0]] } ?? [:],
            ] as [String: Any],
        ]
        let recipient: [String: Any] = [
            "emailAddress": event.recipient, "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 user unknown",
        ]
        switch event.espEvent {
        case "Delivery": ses["delivery"] = ["timestamp": time, "recipients": [event.recipient], "smtpResponse": "250 2.0.0 OK"]
        case "Bounce":
            ses["bounce"] = [
                "timestamp": time, "bounceType": event.extra["bounceType"] ?? "Permanent", "bounceSubType": "General",
                "bouncedRecipients": [recipient],
            ]
        case "Complaint":
            ses["complaint"] = [
                "timestamp": time, "complainedRecipients": [["emailAddress": event.recipient]], "complaintFeedbackType": "abuse",
            ]
        case "Reject": ses["reject"] = ["reason": "Bad content"]
        case "Open": ses["open"] = ["timestamp": time, "ipAddress": "203.0.113.7", "userAgent": "Mozilla/5.0"]
        case "Click":
            ses["click"] = [
                "timestamp": time, "ipAddress": "203.0.113.7", "userAgent": "Mozilla/5.0", "link": "https://postwire.test/welcome",
            ]
        case "DeliveryDelay":
            ses["deliveryDelay"] = ["timestamp": time, "delayType": "TransientCommunicationFailure", "delayedRecipients": [recipient]]
        default: ses["send"] = [String: Any]()
        }
        return ses
    }
}
