import Crypto
import EmailEvents
import Foundation
import Providers

/// A request as an ESP would send it, signed.
public struct SignedWebhook: Sendable {
    public var headers: [String: String]
    public var body: [UInt8]
}

/// One event to put in a sample webhook.
public struct SampleEvent: Sendable {
    /// The ESP's own event name (`failed`, `bounce`, …).
    public var espEvent: String
    public var id: String
    /// The ESP's message id; nil makes one from `id` (for SendGrid from its first 22 characters,
    /// so long ids that share those share a message).
    public var messageId: String?
    public var recipient: String
    public var occurredAt: Date
    public var campaign: String?
    /// Extra ESP fields (Mailgun `severity`, SendGrid bounce `type`, …).
    public var extra: [String: String]

    public init(
        espEvent: String, id: String = UUID().uuidString, messageId: String? = nil, recipient: String, occurredAt: Date,
        campaign: String? = nil, extra: [String: String] = [:]
    ) {
        self.espEvent = espEvent
        self.id = id
        self.messageId = messageId
        self.recipient = recipient
        self.occurredAt = occurredAt
        self.campaign = campaign
        self.extra = extra
    }
}

/// Builds realistic, correctly signed webhooks: `postwire send-test`, the load generator and
/// the integration tests use them. The inverse of each provider's verification.
public enum SampleWebhooks {
    /// One event of every kind Mailgun sends.
    public static let mailgunEvents: [(String, [String: String])] = [
        ("accepted", [:]), ("delivered", [:]), ("failed", ["severity": "temporary", "reason": "generic"]),
        ("failed", ["severity": "permanent", "reason": "bounce"]), ("opened", [:]), ("clicked", [:]),
        ("unsubscribed", [:]), ("complained", [:]),
    ]

    /// One event of every kind SendGrid sends.
    public static let sendgridEvents: [(String, [String: String])] = [
        ("processed", [:]), ("delivered", [:]), ("deferred", [:]), ("bounce", ["type": "bounce"]),
        ("bounce", ["type": "blocked"]), ("dropped", ["reason": "Bounced Address"]), ("open", [:]), ("click", [:]),
        ("spamreport", [:]), ("unsubscribe", [:]), ("group_unsubscribe", [:]), ("group_resubscribe", [:]),
    ]

    /// A Mailgun webhook for one event, signed with `signingKey` at `signedAt`. `sortedKeys: false`
    /// (the load generator): valid bytes, made faster, but not reproducible.
    public static func mailgun(
        _ event: SampleEvent, signingKey: String, signedAt: Date, token: String = randomToken(), sortedKeys: Bool = true
    ) -> SignedWebhook {
        let timestamp = String(Int(signedAt.timeIntervalSince1970))
        let mac = HMAC<SHA256>.authenticationCode(for: Data((timestamp + token).utf8), using: SymmetricKey(data: Data(signingKey.utf8)))
        var data: [String: Any] = [
            "event": event.espEvent,
            "id": event.id,
            "timestamp": Double(event.occurredAt.unixMicroseconds) / 1_000_000,
            "recipient": event.recipient,
            "recipient-domain": event.recipient.split(separator: "@").last.map(String.init) ?? "",
            "tags": ["postwire-test"],
            "envelope": ["sender": "news@mg.postwire.test", "transport": "smtp"],
            "message": [
                "headers": [
                    "message-id": "\(event.messageId ?? event.id)@mg.postwire.test", "from": "Postwire <news@mg.postwire.test>",
                    "to": event.recipient,
                ]
            ],
            "user-variables": event.campaign.map { ["campaign": $0] } ?? [:],
        ]
        for (key, value) in event.extra { data[key] = value }
        switch event.espEvent {
        case "delivered": data["delivery-status"] = ["code": 250, "message": "OK", "description": ""]
        case "failed":
            let permanent = event.extra["severity"] == "permanent"
            data["delivery-status"] =
                permanent
                ? ["code": 550, "enhanced-code": "5.1.1", "message": "5.1.1 The email account does not exist", "description": ""]
                : ["code": 452, "enhanced-code": "4.2.2", "message": "4.2.2 Mailbox full", "description": ""]
        case "opened", "clicked":
            data["ip"] = "203.0.113.7"
            data["client-info"] = ["user-agent": "Mozilla/5.0 (postwire send-test)"]
            if event.espEvent == "clicked" { data["url"] = "https://postwire.test/welcome" }
        default: break
        }
        let body: [String: Any] = [
            "signature": ["timestamp": timestamp, "token": token, "signature": Hex.encode(mac)],
            "event-data": data,
        ]
        return SignedWebhook(headers: ["content-type": "application/json"], body: serialize(body, sortedKeys: sortedKeys))
    }

    /// A SendGrid batch of `events`, signed with `privateKey` at `signedAt`.
    /// `sortedKeys: false` (the load generator) skips sorting each event's keys, which took half
    /// the time of making a batch (Foundation compares the keys with a locale): the bytes are
    /// then valid but not reproducible.
    public static func sendgrid(
        _ events: [SampleEvent], privateKey: P256.Signing.PrivateKey, signedAt: Date, sortedKeys: Bool = true
    ) -> SignedWebhook {
        let objects: [[String: Any]] = events.map { event in
            var object: [String: Any] = [
                "email": event.recipient,
                "timestamp": Int(event.occurredAt.timeIntervalSince1970),
                "event": event.espEvent,
                "sg_event_id": event.id,
                "sg_message_id": "\(event.messageId ?? String(event.id.prefix(22))).filter0001.1.0",
                "smtp-id": "<\(event.id)@postwire.test>",
                "category": ["postwire-test"],
            ]
            if let campaign = event.campaign { object["campaign"] = campaign }
            for (key, value) in event.extra { object[key] = value }
            switch event.espEvent {
            case "delivered": object["response"] = "250 OK"
            case "deferred": object["response"] = "451 4.7.1 Try again later"
            case "bounce": object["status"] = "5.1.1"; object["reason"] = "550 5.1.1 No such user"
            case "open": object["useragent"] = "Mozilla/5.0"; object["ip"] = "203.0.113.7"; object["sg_machine_open"] = false
            case "click": object["url"] = "https://postwire.test/welcome"; object["useragent"] = "Mozilla/5.0"
            default: break
            }
            return object
        }
        let body = serialize(objects, sortedKeys: sortedKeys)
        let timestamp = String(Int(signedAt.timeIntervalSince1970))
        var signed = Data(timestamp.utf8)
        signed.append(contentsOf: body)
        // Signing with a valid P-256 key over in-memory bytes does not fail.
        let signature = (try? privateKey.signature(for: signed).derRepresentation.base64EncodedString()) ?? ""
        return SignedWebhook(
            headers: [
                "content-type": "application/json",
                SendGridProvider.signatureHeader: signature,
                SendGridProvider.timestampHeader: timestamp,
            ],
            body: body
        )
    }

    public static func randomToken() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        // Eight characters from each random word: one system call per eight, not per character
        // (the generator makes these for every request it signs).
        var token: [Character] = []
        token.reserveCapacity(50)
        while token.count < 50 {
            var word = UInt64.random(in: .min ... .max)
            for _ in 0..<8 where token.count < 50 {
                token.append(alphabet[Int(word % 36)])
                word /= 36
            }
        }
        return String(token)
    }

    /// The JSON of a sample body, written directly: JSONSerialization was three quarters of the
    /// load generator's time making requests. Values of other types than these go through
    /// JSONSerialization.
    static func serialize(_ value: Any, sortedKeys: Bool = true) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(1024)
        write(value, to: &bytes, sortedKeys: sortedKeys)
        return bytes
    }

    private static func write(_ value: Any, to bytes: inout [UInt8], sortedKeys: Bool) {
        switch value {
        case let text as String: EventJSON.appendQuoted(text, to: &bytes)
        case let flag as Bool where type(of: value) == Bool.self: bytes.append(contentsOf: (flag ? "true" : "false").utf8)
        case let number as Int where type(of: value) == Int.self: bytes.append(contentsOf: String(number).utf8)
        case let number as Double where type(of: value) == Double.self && number.isFinite:
            bytes.append(contentsOf: "\(number)".utf8)
        case let list as [Any]:
            bytes.append(UInt8(ascii: "["))
            for (i, item) in list.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                write(item, to: &bytes, sortedKeys: sortedKeys)
            }
            bytes.append(UInt8(ascii: "]"))
        case let object as [String: Any]:
            bytes.append(UInt8(ascii: "{"))
            let members = sortedKeys ? object.sorted { $0.key < $1.key } : Array(object)
            for (i, (key, member)) in members.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                EventJSON.appendQuoted(key, to: &bytes)
                bytes.append(UInt8(ascii: ":"))
                write(member, to: &bytes, sortedKeys: sortedKeys)
            }
            bytes.append(UInt8(ascii: "}"))
        default:
            // Anything else (NSNull, other number types) as JSONSerialization writes it.
            let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys])
            bytes.append(contentsOf: data ?? Data("null".utf8))
        }
    }
}
