import Crypto
import EmailEvents
import Foundation

/// Mandrill (docs/PROVIDERS.md §5): a form post whose `mandrill_events` field is a JSON array of up
/// to 1,000 events. `X-Mandrill-Signature` = base64(HMAC-SHA1(webhook key, URL + every POST key
/// and value, sorted by key)), where the URL is exactly as entered in Mandrill, so it is
/// configured per source (`url`) rather than rebuilt from proxied request data.
public struct MandrillProvider: WebhookProvider {
    public var provider: Provider { .mandrill }

    public init() {}

    public func authenticate(
        _ request: WebhookRequest, credentials: SourceCredentials, now: Date
    ) async throws(WebhookError) -> Authentication {
        guard let form = FormBody.parse(request.body) else { throw WebhookError(.unreadable, "body is not a form") }
        try verify(request, form: form, credentials: credentials)
        return Authentication(parsed: .form(form))
    }

    /// Each event of `mandrill_events` on its own; one set aside is quarantined as a form holding
    /// only it. `mandrill_events=[]` (Mandrill's test post when a webhook is saved) has no event.
    public func normalize(_ request: WebhookRequest, _ authentication: Authentication, source: String) -> ReceivedWebhook {
        guard case .form(let form) = authentication.parsed, let events = form.last(where: { $0.0 == "mandrill_events" })?.1 else {
            return ReceivedWebhook(
                events: [], rejected: [RejectedElement(index: nil, reason: "no mandrill_events field", body: request.body)])
        }
        return EventObjects.normalizeEach(Array(events.utf8), arraysOnly: true, wrap: FormBody.mandrillEvents) {
            object, raw throws(WebhookError) in
            [try MandrillNormalizer.normalize(object, raw: raw, source: source, receivedAt: request.receivedAt)]
        }.received()
    }

    private func verify(_ request: WebhookRequest, form: [(String, String)], credentials: SourceCredentials) throws(WebhookError) {
        if credentials.secrets.isEmpty && credentials.allowUnauthenticated { return }
        guard let header = request.headers["x-mandrill-signature"],
            let mac = Data(base64Encoded: header.trimmed)
        else { throw WebhookError(.missingCredentials, "no X-Mandrill-Signature header") }
        var signed = credentials.url ?? request.url
        for (key, value) in form.sorted(by: { Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8)) }) {
            signed += key + value
        }
        let message = Data(signed.utf8)
        let valid = credentials.secrets.contains { key in
            HMAC<Insecure.SHA1>.isValidAuthenticationCode(mac, authenticating: message, using: SymmetricKey(data: Data(key.utf8)))
        }
        guard valid else {
            throw WebhookError(.badSignature, "signature does not match (is the source's url exactly the one entered in Mandrill?)")
        }
    }
}

/// `application/x-www-form-urlencoded` → ordered (name, value) pairs, percent-decoded.
enum FormBody {
    static func parse(_ body: [UInt8]) -> [(String, String)]? {
        var pairs: [(String, String)] = []
        for part in body.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let pieces = part.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(pieces[0]), let value = decode(pieces.count > 1 ? pieces[1] : []) else { return nil }
            pairs.append((name, value))
        }
        return pairs
    }

    /// `mandrill_events=<the JSON, form-encoded>`: the body of a Mandrill post holding `json`.
    static func mandrillEvents(_ json: [UInt8]) -> [UInt8] {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let encoded = String(decoding: json, as: UTF8.self).addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
        return Array(("mandrill_events=" + encoded).utf8)
    }

    static func decode(_ bytes: some Collection<UInt8>) -> String? {
        let spaced = String(decoding: bytes.map { $0 == UInt8(ascii: "+") ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
        return spaced.removingPercentEncoding
    }
}

/// Maps one Mandrill event onto ``EmailEvent`` (docs/PROVIDERS.md §5, §13.1 and §14.3).
enum MandrillNormalizer {
    static func normalize(_ object: JSONObject, raw: [UInt8], source: String, receivedAt: Date) throws(WebhookError) -> EmailEvent {
        // Sync events (allow/deny list changes) have `type` and `action` instead of `event`.
        guard let name = object.text("event") ?? object.text("type") else {
            throw WebhookError(.malformed, "event has no event or type")
        }
        let message = object.object("msg")
        let id = object.text("_id") ?? message?.text("_id")
        var event = EmailEvent(
            provider: .mandrill, source: source, type: type(of: name), espEvent: name,
            eventKey: EventKey.derived([
                id, name, object.string("ts"), object.text("url") ?? object.text("ip"), object.object("reject")?.text("email"),
            ]),
            occurredAt: EventTime.seconds(object.double("ts"), receivedAt: receivedAt), receivedAt: receivedAt, raw: raw
        )
        event.messageId = id
        event.setRecipient(message?.text("email") ?? object.object("reject")?.text("email") ?? object.object("entry")?.text("email"))
        event.setSender(message?.text("sender"))
        // The last SMTP exchange says what the receiving server answered.
        let lastExchange = (message?.array("smtp_events") ?? []).compactMap(JSONObject.init).last
        event.mtaResponse = message?.text("diag") ?? lastExchange?.text("diag")
        event.smtpCode = event.mtaResponse.flatMap(SMTPText.code(in:))
        event.description = message?.text("bounce_description") ?? object.object("reject")?.text("detail")
        switch name {
        case "hard_bounce": event.bounceClass = .hard
        case "soft_bounce", "deferral": event.bounceClass = .soft
        default: break  // a `reject` event carries no reason
        }
        event.tags = message?.strings("tags") ?? []
        event.metadata = message?.object("metadata")?.textMap() ?? [:]
        event.campaign = event.metadata["campaign"]
        event.clickURL = object.text("url")
        event.userAgent = object.text("user_agent")
        event.ip = object.text("ip")
        // Mandrill parses the user agent; a "robot" type is its own verdict that no person read.
        if event.type == .opened || event.type == .clicked, object.object("user_agent_parsed")?.text("type") == "robot" {
            event.machineFlag = "user_agent_parsed.type=robot"
        }
        return event
    }

    static func type(of name: String) -> EventType {
        switch name {
        case "send": .sent
        case "delivered": .delivered
        case "deferral": .deferred
        case "hard_bounce", "soft_bounce": .bounced
        case "open": .opened
        case "click": .clicked
        case "spam": .complained
        case "unsub": .unsubscribed
        case "reject": .rejected
        default: .unknown
        }
    }
}
