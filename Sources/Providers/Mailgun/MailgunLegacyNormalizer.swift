import EmailEvents
import Foundation

/// Mailgun's legacy webhooks (before its 2018 JSON webhooks, still sent by old accounts): form
/// fields, urlencoded or multipart (a bounce may attach the bounced message). `timestamp`, `token`
/// and `signature` are top-level fields, signed as in the JSON format; custom variables are
/// top-level fields too, and a variable named like a signature field comes before Mailgun's own
/// value, so those three are read last-wins and everything else first-wins.
///
/// Events: delivered, dropped (Mailgun refused to send: a rejection), bounced, complained, opened,
/// clicked, unsubscribed. There is no event id: the key is derived from what identifies the event.
enum MailgunLegacyNormalizer {
    static let signatureFields: Set<String> = ["timestamp", "token", "signature"]
    /// Events a message and recipient can have more than once: their key needs their time. The
    /// others (delivered, dropped, bounced, complained, unsubscribed) are keyed without it, because
    /// a retry of a legacy post is signed anew, with a new `timestamp` (the field is both the
    /// event's time and the signature's); two opens in one second are then one, and a re-signed
    /// retry of an open can count twice (the format has no event id).
    static let repeats: Set<String> = ["opened", "clicked"]
    /// Fields that are Mailgun's, not custom variables.
    static let known: Set<String> = [
        "event", "recipient", "domain", "ip", "country", "region", "city", "user-agent", "device-type", "client-type", "client-name",
        "client-os", "campaign-id", "campaign-name", "tag", "X-Mailgun-Tag", "mailing-list", "timestamp", "token", "signature",
        "body-plain", "h", "message-id", "Message-Id", "message-headers", "X-Mailgun-Sid", "attachment-count", "code", "error",
        "notification", "reason", "description", "url",
    ]

    struct Fields {
        let pairs: [(String, String)]
        func first(_ name: String) -> String? { pairs.first { $0.0 == name }.map(\.1).flatMap { $0.trimmed.isEmpty ? nil : $0 } }
        func last(_ name: String) -> String? { pairs.last { $0.0 == name }.map(\.1) }
        func all(_ name: String) -> [String] { pairs.filter { $0.0 == name }.map(\.1).filter { !$0.isEmpty } }
    }

    static func normalize(_ pairs: [(String, String)], source: String, receivedAt: Date) throws(WebhookError) -> EmailEvent {
        let fields = Fields(pairs: pairs)
        guard let name = fields.first("event") else {
            throw WebhookError(
                .malformed,
                fields.first("sender") != nil ? "an inbound message, not an event: route it elsewhere" : "form has no event field")
        }
        let timestamp = fields.last("timestamp")
        let messageId = (fields.first("Message-Id") ?? fields.first("message-id")).map(stripAngleBrackets)
        let raw = json(pairs)
        var event = EmailEvent(
            provider: .mailgun, source: source, type: type(of: name), espEvent: name,
            eventKey: EventKey.derived([
                "legacy", name, fields.first("recipient")?.lowercased(), messageId, repeats.contains(name) ? timestamp : nil,
                fields.first("url"),
            ]),
            occurredAt: EventTime.seconds(timestamp.flatMap { Double($0) }, receivedAt: receivedAt), receivedAt: receivedAt, raw: raw)
        event.deliveryId = fields.last("token")
        event.messageId = messageId
        event.rfcMessageId = messageId
        event.setRecipient(fields.first("recipient"))
        let headers = messageHeaders(fields.first("message-headers"))
        event.setSender(headers.first { $0.0.lowercased() == "from" }?.1)
        if let code = fields.first("code") {
            if let number = Int(code), (100...999).contains(number) { event.smtpCode = number } else { event.enhancedStatus = code }
        }
        event.mtaResponse = fields.first("error") ?? fields.first("notification")
        event.smtpCode = event.smtpCode ?? event.mtaResponse.flatMap(SMTPText.code(in:))
        event.description = fields.first("description")
        event.tags = fields.all("tag").isEmpty ? fields.all("X-Mailgun-Tag") : fields.all("tag")
        event.metadata = metadata(fields, headers: headers)
        event.campaign = fields.first("campaign-name") ?? fields.first("campaign-id") ?? event.metadata["campaign"]
        event.clickURL = fields.first("url")
        event.userAgent = fields.first("user-agent")
        event.ip = fields.first("ip")
        switch event.type {
        case .bounced: event.bounceClass = .hard
        case .rejected: event.rejectReason = rejectReason(fields.first("code"), reason: fields.first("reason"))
        default: break
        }
        return event
    }

    static func type(of name: String) -> EventType {
        switch name {
        case "delivered": .delivered
        case "dropped": .rejected
        case "bounced": .bounced
        case "complained": .complained
        case "opened": .opened
        case "clicked": .clicked
        case "unsubscribed": .unsubscribed
        default: .unknown
        }
    }

    /// Why Mailgun dropped a message: 605 a previous bounce, 607 a spam complaint, 499 (`old`)
    /// timed out trying; other 4xx/5xx codes a bounce.
    static func rejectReason(_ code: String?, reason: String?) -> RejectReason {
        switch code.flatMap({ Int($0) }) {
        case 605: .bounced
        case 607: .spam
        case 499: .timedOut
        case let number? where (400...599).contains(number): .bounced
        default: reason == "old" ? .timedOut : .other
        }
    }

    /// `message-headers`: a JSON array of [name, value] pairs; structured values (`Content-Type`)
    /// are `[value, {parameters}]` and are skipped.
    static func messageHeaders(_ text: String?) -> [(String, String)] {
        guard let text, let array = JSONObject.parseValue(Array(text.utf8)) as? [Any] else { return [] }
        return array.compactMap { item in
            guard let pair = item as? [Any], pair.count == 2, let name = pair[0] as? String, let value = pair[1] as? String else {
                return nil
            }
            return (name, value)
        }
    }

    /// Custom variables: from the `X-Mailgun-Variables` headers when the event carries headers,
    /// else every field that is not Mailgun's own.
    static func metadata(_ fields: Fields, headers: [(String, String)]) -> [String: String] {
        let declared = headers.filter { $0.0 == "X-Mailgun-Variables" }
        if !declared.isEmpty {
            var result: [String: String] = [:]
            for (_, value) in declared {
                guard let object = JSONObject.parse(Array(value.utf8)) else { continue }
                for (key, value) in object.storage { result[key] = JSONObject.textValue(value) }
            }
            return result
        }
        var result: [String: String] = [:]
        for (name, value) in fields.pairs where !known.contains(name) && result[name] == nil {
            result[name] = value
        }
        return result
    }

    /// The form as a JSON object (the `raw` column holds JSON): each field's values in order, one
    /// value as a string, several as an array.
    static func json(_ pairs: [(String, String)]) -> [UInt8] {
        var grouped: [String: [String]] = [:]
        for (name, value) in pairs where !signatureFields.contains(name) || name == "timestamp" { grouped[name, default: []].append(value) }
        let object = grouped.mapValues { $0.count == 1 ? $0[0] as Any : $0 as Any }
        return Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8))
    }
}
